/**
 * Server-Sent Events read from a fetch() body (EventSource cannot POST or set headers):
 *
 *     for await (const event of readSse(response.body!, signal)) console.log(event.event, event.data);
 *
 * `SseParser` is the WHATWG event-stream grammar on its own, fed text in chunks of any size: lines end in CRLF, LF
 * or CR (a CRLF split across two chunks counts once); `event:` names the event (default "message"); `data:` lines
 * are joined with "\n"; one space after the colon is dropped; lines starting with ":" are comments; `id:` is kept;
 * `retry:` and unknown fields are ignored; a blank line dispatches; an event without data is not dispatched, nor is
 * one left unfinished when the stream ends.
 */

export interface SseEvent {
  event: string;
  data: string;
  id: string | null;
}

export class SseParser {
  private buffer = '';
  private afterCr = false; // the last chunk ended in CR: a LF starting the next one belongs to that line end
  private eventName = '';
  private data: string[] = [];
  private lastId: string | null = null;

  /** Parse one chunk of text; returns the events it completed, in order. */
  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (this.afterCr && text.startsWith('\n')) text = text.slice(1);
    this.afterCr = false;
    this.buffer += text;
    const events: SseEvent[] = [];
    let start = 0;
    for (let index = 0; index < this.buffer.length; index += 1) {
      const char = this.buffer[index];
      if (char !== '\n' && char !== '\r') continue;
      const line = this.buffer.slice(start, index);
      if (char === '\r') {
        if (index + 1 === this.buffer.length) this.afterCr = true;
        else if (this.buffer[index + 1] === '\n') index += 1;
      }
      start = index + 1;
      const event = this.line(line);
      if (event) events.push(event);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  private line(line: string): SseEvent | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null; // a comment (a keep-alive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.eventName = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    return null;
  }

  private dispatch(): SseEvent | null {
    const event = this.data.length > 0 ? { event: this.eventName || 'message', data: this.data.join('\n'), id: this.lastId } : null;
    this.eventName = '';
    this.data = [];
    return event;
  }
}

/** The events of a response body as they arrive; stops (without error) when `signal` aborts or the body ends. */
export async function* readSse(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  const cancel = () => void reader.cancel().catch(() => undefined);
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    for (;;) {
      if (signal?.aborted) return;
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (signal?.aborted) return; // fetch's own abort rejects the read
        throw error;
      }
      const { done, value } = chunk;
      if (done) {
        yield* parser.push(decoder.decode());
        return;
      }
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    signal?.removeEventListener('abort', cancel);
    cancel();
    reader.releaseLock();
  }
}
