/** @vitest-environment jsdom */
/**
 * The Ask page's answer stream in jsdom, against a stubbed fetch whose POST /api/ai/question answers with a
 * ReadableStream the test writes Server-Sent Events into: the composed answer at once, the model's sentences marked
 * as being phrased, the final answer (phrased and checked, or composed with its reason in words), the JSON fallback,
 * cancelling on asking again and on leaving, and refusals shown as errors.
 */
import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AIInsight } from '../../src/api/types';
import { App } from '../../src/App';
import { answer, NARRATIVE } from '../e2e/mock/fixtures';
import { fakeConnection } from './render';

const MODEL = 'smollm2-135m-instruct';

vi.setConfig({ testTimeout: 20_000 }); // the first render of the whole app in jsdom takes seconds on 2 cores

/** A streaming response the test feeds frame by frame (and may break or leave open). */
function sseResponse() {
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      cancelled = true;
    },
  });
  return {
    response: new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream; charset=utf-8' } }),
    send(event: string, data: unknown) {
      controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
    },
    /** Half a frame: the rest comes with the next `raw`. */
    raw(text: string) {
      controller.enqueue(encoder.encode(text));
    },
    close: () => controller.close(),
    fail: () => controller.error(new TypeError('network error')),
    get cancelled() {
      return cancelled;
    },
  };
}
type Stream = ReturnType<typeof sseResponse>;

const composed = (question: string, language: 'zh-TW' | 'en' = 'zh-TW'): AIInsight => ({
  ...answer(question, language),
  fallback_reason: 'composed: the composed answer, without waiting for the model',
});

interface Stub {
  streams: Stream[];
  jsonAnswers: number;
  fetch: ReturnType<typeof vi.fn>;
}

/** fetch: insights as JSON; each streamed question gets a new stream (or what `question` returns). */
function stub(question?: (init: RequestInit) => Response | Promise<Response>): Stub {
  const state: Stub = { streams: [], jsonAnswers: 0, fetch: vi.fn() };
  state.fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const path = new URL(String(input)).pathname;
    if (path === '/api/insights') return Response.json({ insights: [NARRATIVE] });
    if (path !== '/api/ai/question') return Response.json({ error: { code: 'not_found', message: path, request_id: 'r' } }, { status: 404 });
    const accept = (init.headers as Record<string, string>).Accept ?? '';
    const body = JSON.parse(String(init.body)) as { question: string; language: 'zh-TW' | 'en' };
    if (!accept.startsWith('text/event-stream')) {
      state.jsonAnswers += 1;
      return Response.json(answer(body.question, body.language));
    }
    if (question) return question(init);
    const stream = sseResponse();
    state.streams.push(stream);
    init.signal?.addEventListener('abort', () => stream.fail());
    return stream.response;
  });
  vi.stubGlobal('fetch', state.fetch);
  return state;
}

function start(question?: Parameters<typeof stub>[0]) {
  window.location.hash = '#/ask';
  localStorage.setItem('qcl.apiKey', 'k');
  const api = stub(question);
  const view = render(<App connection={fakeConnection().connection} />);
  return { api, view };
}

const answerEntry = () => within(screen.getByTestId('answers')).getAllByTestId('answer')[0]!;

async function askTemplate(text = '網路健康嗎？') {
  fireEvent.click(await screen.findByText(text));
}

beforeEach(() => {
  localStorage.clear();
  vi.stubGlobal('matchMedia', (query: string) => ({
    matches: query.includes('min-width'),
    media: query,
    addEventListener() {},
    removeEventListener() {},
    addListener() {},
    removeListener() {},
  }));
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('the Ask page streams an answer', () => {
  it('asks for Server-Sent Events and shows the composed answer at once, then the phrasing, then the final answer', async () => {
    const { api } = start();
    await askTemplate();
    await waitFor(() => expect(api.streams).toHaveLength(1));
    const post = api.fetch.mock.calls.find(([url]) => String(url).endsWith('/api/ai/question'))!;
    expect((post[1] as RequestInit).headers).toMatchObject({ Accept: expect.stringMatching(/^text\/event-stream/) });
    expect(JSON.parse(String((post[1] as RequestInit).body))).toEqual({ question: '網路健康嗎？', language: 'zh-TW' });
    const stream = api.streams[0]!;

    act(() => stream.send('answer', composed('網路健康嗎？')));
    await waitFor(() => expect(answerEntry()).toHaveAttribute('data-phase', 'composed'));
    expect(answerEntry()).toHaveTextContent('網路健康分數 72（降級）');
    expect(within(answerEntry()).getByTestId('phrasing')).toHaveTextContent('等待模型措辭…');
    expect(within(answerEntry()).getByTestId('answer-origin')).toHaveTextContent('組合答案：每個數字都直接取自報告。');

    act(() => stream.send('delta', { text: '網路健康分數為 72。' }));
    act(() => stream.raw('event: delta\ndata: {"text": "空 tick'));
    act(() => stream.raw(' 比例為 4.2%。"}\n\n'));
    await waitFor(() => expect(answerEntry()).toHaveAttribute('data-phase', 'phrasing'));
    await waitFor(() =>
      expect(within(answerEntry()).getByTestId('phrasing-text')).toHaveTextContent('網路健康分數為 72。空 tick 比例為 4.2%。'),
    );
    expect(within(answerEntry()).getByTestId('phrasing')).toHaveTextContent('尚未定稿');

    const phrased: AIInsight = {
      ...composed('網路健康嗎？'),
      text: '網路健康分數為 72。空 tick 比例為 4.2%。',
      model: MODEL,
      grounded: true,
      fallback_used: false,
      fallback_reason: null,
    };
    act(() => stream.send('final', phrased));
    await waitFor(() => expect(answerEntry()).toHaveAttribute('data-phase', 'final'));
    expect(within(answerEntry()).queryByTestId('phrasing')).toBeNull();
    expect(within(answerEntry()).getByTestId('badge-grounded')).toBeInTheDocument();
    expect(within(answerEntry()).getByTestId('answer-origin')).toHaveTextContent(`由模型 ${MODEL} 措辭，每個數字都已對照報告核對。`);
    expect(answerEntry()).not.toHaveTextContent('（降級）');
    await waitFor(() => expect(within(screen.getByTestId('history')).getAllByText('問：網路健康嗎？')).toHaveLength(1));
    expect(api.jsonAnswers).toBe(0);
  });

  it('says in words why the composed answer stands when the model did not phrase it', async () => {
    const { api } = start();
    await askTemplate();
    await waitFor(() => expect(api.streams).toHaveLength(1));
    act(() => {
      api.streams[0]!.send('answer', composed('網路健康嗎？'));
      api.streams[0]!.send('final', {
        ...composed('網路健康嗎？'),
        fallback_reason: `language_unsupported: ${MODEL} is not measured to write zh-TW fluently`,
      });
    });
    await waitFor(() => expect(answerEntry()).toHaveAttribute('data-phase', 'final'));
    const origin = within(answerEntry()).getByTestId('answer-origin');
    expect(origin).toHaveTextContent('組合答案：每個數字都直接取自報告。此模型未經驗證能流暢書寫這種語言，因此沿用組合答案。');
    expect(origin).toHaveAttribute('title', expect.stringMatching(/^language_unsupported: /));
    expect(within(answerEntry()).getByTestId('badge-fallback')).toBeInTheDocument();
  });

  it('ignores events it does not know', async () => {
    const { api } = start();
    await askTemplate();
    await waitFor(() => expect(api.streams).toHaveLength(1));
    act(() => {
      api.streams[0]!.send('progress', { tokens: 3 });
      api.streams[0]!.send('answer', composed('網路健康嗎？'));
      api.streams[0]!.send('final', composed('網路健康嗎？'));
    });
    await waitFor(() => expect(answerEntry()).toHaveAttribute('data-phase', 'final'));
    expect(screen.queryByRole('alert')).toBeNull();
  });
});

describe('when streaming fails', () => {
  it('asks for the JSON answer when the stream cannot be opened', async () => {
    const { api } = start(() => Promise.reject(new TypeError('Failed to fetch')));
    await askTemplate();
    await waitFor(() => expect(answerEntry()).toHaveAttribute('data-phase', 'final'));
    expect(api.jsonAnswers).toBe(1);
    expect(within(answerEntry()).getByTestId('answer-origin')).toHaveTextContent('串流失敗，這是改以一般請求取得的答案。');
    expect(within(answerEntry()).getByTestId('answer-origin')).toHaveTextContent('未設定模型；回答與解讀來自範本。');
  });

  it('asks for the JSON answer when the stream ends without a final answer', async () => {
    const { api } = start();
    await askTemplate();
    await waitFor(() => expect(api.streams).toHaveLength(1));
    act(() => {
      api.streams[0]!.send('answer', composed('網路健康嗎？'));
      api.streams[0]!.close();
    });
    await waitFor(() => expect(answerEntry()).toHaveAttribute('data-phase', 'final'));
    expect(api.jsonAnswers).toBe(1);
  });

  it('keeps the composed answer when the stream breaks and the JSON answer fails too', async () => {
    let streamed: Stream | undefined;
    const { api } = start();
    api.fetch.mockImplementation(async (input: RequestInfo | URL, init: RequestInit = {}) => {
      const path = new URL(String(input)).pathname;
      if (path === '/api/insights') return Response.json({ insights: [] });
      if ((init.headers as Record<string, string>).Accept?.startsWith('text/event-stream')) {
        streamed = sseResponse();
        return streamed.response;
      }
      throw new TypeError('Failed to fetch');
    });
    await askTemplate();
    await waitFor(() => expect(streamed).toBeDefined());
    act(() => streamed!.send('answer', composed('網路健康嗎？')));
    await waitFor(() => expect(answerEntry()).toHaveAttribute('data-phase', 'composed'));
    act(() => streamed!.fail());
    await waitFor(() => expect(answerEntry()).toHaveAttribute('data-phase', 'final'));
    expect(within(answerEntry()).getByTestId('answer-origin')).toHaveTextContent('串流中斷，沿用已收到的組合答案。');
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('shows a refusal as an error and does not ask again as JSON', async () => {
    const { api } = start(() =>
      Response.json(
        { error: { code: 'validation_error', message: 'question: off topic', field: 'question', request_id: 'r-422' } },
        { status: 422 },
      ),
    );
    await askTemplate();
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('請求編號：r-422');
    expect(api.jsonAnswers).toBe(0);
    expect(screen.queryAllByTestId('answer')).toHaveLength(0);
  });
});

describe('cancelling', () => {
  it('asking again cancels the question being phrased; its composed answer stands', async () => {
    const { api } = start();
    await askTemplate();
    await waitFor(() => expect(api.streams).toHaveLength(1));
    act(() => api.streams[0]!.send('answer', composed('網路健康嗎？')));
    await waitFor(() => expect(answerEntry()).toHaveAttribute('data-phase', 'composed'));

    await askTemplate('價格趨勢？');
    await waitFor(() => expect(api.streams).toHaveLength(2));
    expect((api.fetch.mock.calls.filter(([url]) => String(url).endsWith('/api/ai/question'))[0]![1] as RequestInit).signal!.aborted).toBe(true);
    const shown = within(screen.getByTestId('answers')).getAllByTestId('answer'); // the new question has none yet
    expect(shown).toHaveLength(1);
    expect(shown[0]).toHaveAttribute('data-phase', 'final');
    expect(within(shown[0]!).getByTestId('answer-origin')).toHaveTextContent('在模型措辭完成前又提問了，沿用組合答案。');
    await waitFor(() => expect(within(screen.getByTestId('history')).getAllByText('問：網路健康嗎？')).toHaveLength(1));
    act(() => api.streams[1]!.send('answer', composed('價格趨勢？')));
    await waitFor(() => expect(answerEntry()).toHaveTextContent('問：價格趨勢？'));
    expect(api.jsonAnswers).toBe(0);
  });

  it('leaving the page cancels the stream', async () => {
    const { api, view } = start();
    await askTemplate();
    await waitFor(() => expect(api.streams).toHaveLength(1));
    act(() => api.streams[0]!.send('answer', composed('網路健康嗎？')));
    await waitFor(() => expect(answerEntry()).toHaveAttribute('data-phase', 'composed'));
    const signal = (api.fetch.mock.calls.find(([url]) => String(url).endsWith('/api/ai/question'))![1] as RequestInit).signal!;
    view.unmount();
    expect(signal.aborted).toBe(true);
    expect(api.jsonAnswers).toBe(0);
  });
});
