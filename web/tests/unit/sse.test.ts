/** The Server-Sent Events parser: frames split anywhere, multi-line data, comments, unknown fields and events. */
import { describe, expect, it } from 'vitest';
import { readSse, SseParser, type SseEvent } from '../../src/lib/sse';

const STREAM =
  'event: answer\ndata: {"text": "市值為 143,292,098 美元。"}\n\n' +
  ': keep-alive\n\n' +
  'event: delta\ndata: {"text": "One."}\n\n' +
  'event: final\ndata: {"text": "done"}\n\n';

function parseIn(chunks: string[]): SseEvent[] {
  const parser = new SseParser();
  return chunks.flatMap((chunk) => parser.push(chunk));
}

/** Every way of cutting `text` in two, and in single characters. */
function splits(text: string): string[][] {
  const cuts = [...Array(text.length + 1).keys()].map((at) => [text.slice(0, at), text.slice(at)]);
  return [...cuts, [...text]];
}

function bodyOf(chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
      controller.close();
    },
  });
}

async function collect(stream: AsyncIterable<SseEvent>): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

describe('SseParser', () => {
  it('reads named events with their data, skipping comments', () => {
    expect(parseIn([STREAM]).map((event) => [event.event, event.data])).toEqual([
      ['answer', '{"text": "市值為 143,292,098 美元。"}'],
      ['delta', '{"text": "One."}'],
      ['final', '{"text": "done"}'],
    ]);
  });

  it('gives the same events however the text is cut into chunks', () => {
    const whole = parseIn([STREAM]);
    for (const chunks of splits(STREAM)) expect(parseIn(chunks)).toEqual(whole);
  });

  it('joins multi-line data with newlines', () => {
    expect(parseIn(['data: first\ndata:second\ndata:  third\n\n'])).toEqual([
      { event: 'message', data: 'first\nsecond\n third', id: null },
    ]);
  });

  it('takes CRLF and CR line ends, a CRLF cut between chunks counting once', () => {
    const crlf = 'event: delta\r\ndata: a\r\n\r\nevent: final\r\ndata: b\r\n\r\n';
    const expected = [
      { event: 'delta', data: 'a', id: null },
      { event: 'final', data: 'b', id: null },
    ];
    for (const chunks of splits(crlf)) expect(parseIn(chunks)).toEqual(expected);
    expect(parseIn(['event: delta\rdata: a\r\r'])).toEqual([{ event: 'delta', data: 'a', id: null }]);
  });

  it('keeps unknown event names for the caller to ignore, and ignores unknown fields and retry', () => {
    expect(parseIn(['event: progress\nretry: 1000\nfoo: bar\ndata: 1\n\n'])).toEqual([{ event: 'progress', data: '1', id: null }]);
  });

  it('does not dispatch an event without data, and resets the name after each event', () => {
    expect(parseIn(['event: answer\n\ndata: x\n\n'])).toEqual([{ event: 'message', data: 'x', id: null }]);
  });

  it('keeps the last id', () => {
    expect(parseIn(['id: 7\ndata: a\n\ndata: b\n\n']).map((event) => event.id)).toEqual(['7', '7']);
  });

  it('holds back an event until its blank line arrives', () => {
    const parser = new SseParser();
    expect(parser.push('event: final\ndata: {"text"')).toEqual([]);
    expect(parser.push(': "x"}\n')).toEqual([]);
    expect(parser.push('\n')).toEqual([{ event: 'final', data: '{"text": "x"}', id: null }]);
  });
});

describe('readSse', () => {
  it('decodes UTF-8 cut inside a character', async () => {
    const bytes = new TextEncoder().encode('event: delta\ndata: {"text": "網路健康。"}\n\n');
    const cut = bytes.indexOf(0xe7) + 1; // inside 網
    const events = await collect(readSse(bodyOf([bytes.slice(0, cut), bytes.slice(cut)])));
    expect(events).toEqual([{ event: 'delta', data: '{"text": "網路健康。"}', id: null }]);
  });

  it('drops an event left unfinished when the body ends', async () => {
    expect(await collect(readSse(bodyOf(['data: a\n\n', 'data: b\n'])))).toEqual([{ event: 'message', data: 'a', id: null }]);
  });

  it('stops quietly when the signal aborts', async () => {
    const controller = new AbortController();
    const body = new ReadableStream<Uint8Array>({
      start(stream) {
        stream.enqueue(new TextEncoder().encode('data: a\n\n'));
      }, // never closes, like a stream still being phrased
    });
    const events: SseEvent[] = [];
    for await (const event of readSse(body, controller.signal)) {
      events.push(event);
      controller.abort();
    }
    expect(events.map((event) => event.data)).toEqual(['a']);
  });

  it('ends a read still waiting for data when the signal aborts', async () => {
    const controller = new AbortController();
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      cancel() {
        cancelled = true;
      },
    });
    const reading = collect(readSse(body, controller.signal));
    await new Promise((done) => setTimeout(done, 10));
    controller.abort();
    expect(await reading).toEqual([]);
    expect(cancelled).toBe(true);
  });
});
