/** @vitest-environment jsdom */
/** The HTTP client against a stubbed fetch (the browser boundary): auth header, error shapes, failures. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, AUTH_HEADER, CSRF_HEADER, loadApiKey, request, saveApiKey } from '../../src/api/client';

function respond(status: number, body: string, headers: Record<string, string> = {}) {
  const fetch = vi.fn(async (_input: RequestInfo | URL, _init?: RequestInit) => new Response(body, { status, headers }));
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

afterEach(() => vi.unstubAllGlobals());

describe('request', () => {
  it('sends the stored API key as a bearer token in the Authorization header', async () => {
    saveApiKey('secret-key');
    const fetch = respond(200, '{}');
    await request('GET', '/api/ai/status');
    const init = fetch.mock.calls[0]![1] as RequestInit;
    expect(AUTH_HEADER).toBe('Authorization');
    expect((init.headers as Record<string, string>)[AUTH_HEADER]).toBe('Bearer secret-key');
  });

  it('sends no Authorization header without a key', async () => {
    const fetch = respond(200, '{}');
    await request('GET', '/api/ai/status');
    expect((fetch.mock.calls[0]![1] as RequestInit).headers).not.toHaveProperty(AUTH_HEADER);
  });

  it('puts query parameters in the URL and leaves out undefined ones', async () => {
    const fetch = respond(200, '{}');
    await request('GET', '/api/insights', { query: { limit: 5, cursor: undefined } });
    expect(String(fetch.mock.calls[0]![0])).toMatch(/\/api\/insights\?limit=5$/);
  });

  it('sends a body as JSON', async () => {
    const fetch = respond(200, '{}');
    await request('POST', '/api/ai/question', { body: { question: '網路健康嗎？' } });
    const init = fetch.mock.calls[0]![1] as RequestInit;
    expect(init.body).toBe('{"question":"網路健康嗎？"}');
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
  });

  it('marks every change with the CSRF header a session cookie needs, and no read', async () => {
    const fetch = respond(200, '{}');
    await request('POST', '/api/admin/keys', { body: {}, apiKey: null });
    await request('GET', '/api/admin/keys', { apiKey: null });
    const sent = fetch.mock.calls.map((call) => (call[1] as RequestInit).headers as Record<string, string>);
    expect(sent[0]![CSRF_HEADER]).toBe('1');
    expect(sent[1]).not.toHaveProperty(CSRF_HEADER);
  });

  it('returns the parsed body', async () => {
    respond(200, '{"health_score": 72}');
    await expect(request('GET', '/api/network/latest')).resolves.toEqual({ health_score: 72 });
  });

  it("turns the API's error body into an ApiError with code, field and request id", async () => {
    respond(422, JSON.stringify({ error: { code: 'invalid', message: 'too long', field: 'question', request_id: 'r-1' } }));
    const error = await failure(request('POST', '/api/ai/question'));
    expect(error).toMatchObject({ kind: 'invalid', status: 422, code: 'invalid', field: 'question', requestId: 'r-1', message: 'too long' });
  });

  it('names a missing or wrong key as unauthorized', async () => {
    respond(401, JSON.stringify({ error: { code: 'unauthorized', message: 'bad key', request_id: 'r-2' } }));
    expect((await failure(request('GET', '/api/nodes'))).kind).toBe('unauthorized');
  });

  it('reads Retry-After on a 429', async () => {
    respond(429, JSON.stringify({ error: { code: 'rate_limited', message: 'slow down', request_id: 'r-3' } }), {
      'Retry-After': '7',
    });
    expect(await failure(request('GET', '/api/nodes'))).toMatchObject({ kind: 'rate_limited', retryAfterS: 7 });
  });

  it('still explains an error whose body is not the API shape (a proxy page)', async () => {
    respond(502, '<html>Bad gateway</html>', { 'X-Request-Id': 'proxy-1' });
    expect(await failure(request('GET', '/api/nodes'))).toMatchObject({ kind: 'server', message: 'HTTP 502', requestId: 'proxy-1' });
  });

  it('reports a success whose body is not JSON as a bad response', async () => {
    respond(200, '<html>index</html>');
    expect((await failure(request('GET', '/api/nodes'))).kind).toBe('bad_response');
  });

  it('reports an unreachable server as a network error', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    expect(await failure(request('GET', '/api/nodes'))).toMatchObject({ kind: 'network', message: 'Failed to fetch' });
  });

  it('lets an abort through as an abort, not as an API error', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new DOMException('aborted', 'AbortError'))));
    await expect(request('GET', '/api/nodes')).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('API key storage', () => {
  it('trims what it stores', () => {
    saveApiKey('  abc  ');
    expect(loadApiKey()).toBe('abc');
  });

  it('forgets the key when given an empty one', () => {
    saveApiKey('abc');
    saveApiKey('   ');
    expect(loadApiKey()).toBeNull();
  });
});
