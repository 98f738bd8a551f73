/**
 * The HTTP client: every request goes through `request`, which adds the API key, parses JSON and turns every failure
 * (HTTP error, network error, non-JSON body) into an ApiError the UI can explain. Without a key, the browser's
 * session cookie (set by `qcl up`'s login URL, HttpOnly: this code never sees it) authenticates same-origin calls;
 * every change also carries CSRF_HEADER, which the API requires of cookie-authenticated changes.
 */
import type { ErrorBody } from './types';

/** The header the API authenticates with; the value is `${AUTH_SCHEME} <key>`. */
export const AUTH_HEADER = 'Authorization';
export const AUTH_SCHEME = 'Bearer';
const API_KEY_STORAGE = 'qcl.apiKey';
/** A header cross-site forms cannot send (qcl.api.sessions): the API refuses a cookie's change without it. */
export const CSRF_HEADER = 'X-QCL-CSRF';

export function loadApiKey(): string | null {
  try {
    return localStorage.getItem(API_KEY_STORAGE);
  } catch {
    return null; // storage blocked (privacy mode): behave as if no key was saved
  }
}

export function saveApiKey(key: string | null): void {
  const trimmed = key?.trim() ?? '';
  if (trimmed) localStorage.setItem(API_KEY_STORAGE, trimmed);
  else localStorage.removeItem(API_KEY_STORAGE);
}

/** Why a call failed, in words the UI maps to a message (`errors.<kind>` in the i18n tables). */
export type ApiErrorKind =
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'invalid'
  | 'rate_limited'
  | 'unavailable'
  | 'server'
  | 'network'
  | 'bad_response';

export class ApiError extends Error {
  readonly kind: ApiErrorKind;
  readonly status: number | null;
  readonly code: string | null;
  readonly field: string | null;
  readonly requestId: string | null;
  readonly retryAfterS: number | null;

  constructor(init: {
    kind: ApiErrorKind;
    message: string;
    status?: number | null;
    code?: string | null;
    field?: string | null;
    requestId?: string | null;
    retryAfterS?: number | null;
  }) {
    super(init.message);
    this.name = 'ApiError';
    this.kind = init.kind;
    this.status = init.status ?? null;
    this.code = init.code ?? null;
    this.field = init.field ?? null;
    this.requestId = init.requestId ?? null;
    this.retryAfterS = init.retryAfterS ?? null;
  }
}

export function kindForStatus(status: number): ApiErrorKind {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status === 503) return 'unavailable';
  if (status >= 500) return 'server';
  return 'invalid';
}

function isErrorBody(body: unknown): body is ErrorBody {
  if (typeof body !== 'object' || body === null || !('error' in body)) return false;
  const error = (body as { error: unknown }).error;
  return typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string';
}

/** Build the ApiError for a non-2xx response from its status, headers and (parsed, possibly absent) body. */
export function errorFromResponse(status: number, headers: Headers, body: unknown): ApiError {
  const retryAfter = Number(headers.get('Retry-After'));
  const common = {
    kind: kindForStatus(status),
    status,
    retryAfterS: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
  };
  if (isErrorBody(body)) {
    return new ApiError({
      ...common,
      message: body.error.message,
      code: body.error.code ?? null,
      field: body.error.field ?? null,
      requestId: body.error.request_id ?? headers.get('X-Request-Id'),
    });
  }
  return new ApiError({ ...common, message: `HTTP ${status}`, requestId: headers.get('X-Request-Id') });
}

export type Method = 'GET' | 'POST' | 'DELETE';

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  signal?: AbortSignal;
  apiKey?: string | null;
}

/** Send a request to `path` (starting with /api/) on this origin; a network failure becomes an ApiError. */
async function send(method: Method, path: string, accept: string, options: RequestOptions): Promise<Response> {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined) url.searchParams.set(name, String(value));
  }
  const headers: Record<string, string> = { Accept: accept };
  const key = options.apiKey === undefined ? loadApiKey() : options.apiKey;
  if (key) headers[AUTH_HEADER] = `${AUTH_SCHEME} ${key}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers[CSRF_HEADER] = '1';
  try {
    return await fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError({ kind: 'network', message: error instanceof Error ? error.message : String(error) });
  }
}

/** A response's JSON body (undefined when empty); a 2xx body that is not JSON is a bad_response. */
export async function jsonBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    if (response.ok) throw new ApiError({ kind: 'bad_response', status: response.status, message: text.slice(0, 200) });
    return undefined;
  }
}

/** Call the API at `path` (starting with /api/) on this origin and return its parsed JSON body. */
export async function request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
  const response = await send(method, path, 'application/json', options);
  const body = await jsonBody(response);
  if (!response.ok) throw errorFromResponse(response.status, response.headers, body);
  return body as T;
}

/**
 * Ask for a Server-Sent Events stream (`Accept: text/event-stream`, then JSON as second choice): the 2xx response
 * itself, whose body the caller reads (src/lib/sse.ts); a 4xx/5xx is thrown as the ApiError of its JSON body.
 */
export async function requestStream(method: 'GET' | 'POST', path: string, options: RequestOptions = {}): Promise<Response> {
  const response = await send(method, path, 'text/event-stream, application/json;q=0.5', options);
  if (!response.ok) throw errorFromResponse(response.status, response.headers, await jsonBody(response));
  return response;
}
