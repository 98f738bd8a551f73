/** The live connection against a fake socket and fake timers: reconnect, resume, duplicates, sync state. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  backoffDelay,
  CLOSE_UNAUTHORIZED,
  LiveConnection,
  liveUrl,
  type LiveSnapshot,
  type SocketLike,
} from '../../src/api/live';

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: unknown[] = [];
  closedWith: number | null = null;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    this.closedWith = code;
  }
  // what the server does
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  message(body: unknown) {
    this.onmessage?.({ data: JSON.stringify(body) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

let sockets: FakeSocket[];
let token: string | null;

function connect(overrides: Partial<ConstructorParameters<typeof LiveConnection>[0]> = {}) {
  const live = new LiveConnection({
    url: 'ws://test/api/ws',
    token: () => token,
    createSocket: () => {
      const socket = new FakeSocket();
      sockets.push(socket);
      return socket;
    },
    random: () => 1, // no jitter: delays are exactly base × 2^(n-1)
    ...overrides,
  });
  live.start();
  return live;
}

const last = () => sockets[sockets.length - 1]!;
const event = (seq: number, topic = 'network-analysis', data: unknown = { seq }) => ({
  type: 'event',
  seq,
  topic,
  time: '2025-11-12T10:00:00Z',
  data,
});

beforeEach(() => {
  vi.useFakeTimers();
  sockets = [];
  token = 'key-1';
});
afterEach(() => vi.useRealTimers());

describe('LiveConnection', () => {
  it('says hello with the API key and no resume position on first connect', () => {
    connect();
    last().open();
    expect(last().sent).toEqual([{ type: 'hello', token: 'key-1', resume_after: null }]);
  });

  it('resumes after the last sequence number seen when it reconnects', () => {
    connect();
    last().open();
    last().message(event(41));
    last().message(event(42));
    last().drop();
    vi.advanceTimersByTime(1000);
    last().open();
    expect(last().sent).toEqual([{ type: 'hello', token: 'key-1', resume_after: 42 }]);
  });

  it('delivers events to the handlers of their topic only', () => {
    const live = connect();
    const analysis = vi.fn();
    const insights = vi.fn();
    live.on('network-analysis', analysis);
    live.on('ai-insights', insights);
    last().open();
    last().message(event(1, 'network-analysis', { a: 1 }));
    expect(analysis).toHaveBeenCalledWith({ a: 1 }, 1);
    expect(insights).not.toHaveBeenCalled();
  });

  it('drops an event it has already seen (replayed after a resume)', () => {
    const live = connect();
    const handler = vi.fn();
    live.on('network-analysis', handler);
    last().open();
    last().message(event(5));
    last().message(event(5));
    last().message(event(4));
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('ignores a message that is not JSON and keeps going', () => {
    const live = connect();
    const handler = vi.fn();
    live.on('network-analysis', handler);
    last().open();
    last().onmessage?.({ data: '{oops' });
    last().message(event(1));
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('stops delivering to a handler after unsubscribing', () => {
    const live = connect();
    const handler = vi.fn();
    const off = live.on('network-analysis', handler);
    last().open();
    off();
    last().message(event(1));
    expect(handler).not.toHaveBeenCalled();
  });

  it('goes from connecting to live when the socket opens', () => {
    const live = connect();
    expect(live.state.state).toBe('connecting');
    last().open();
    expect(live.state.state).toBe('live');
  });

  it('shows reconnecting with the attempt number after a drop', () => {
    const live = connect();
    last().open();
    last().drop();
    expect(live.state).toMatchObject({ state: 'reconnecting', attempt: 1 });
  });

  it('waits twice as long after each failed attempt', () => {
    connect();
    last().drop();
    vi.advanceTimersByTime(999);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);
    last().drop();
    vi.advanceTimersByTime(1999);
    expect(sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(3);
  });

  it('shows offline after several failed attempts, and keeps retrying', () => {
    const live = connect({ offlineAfterAttempts: 3 });
    for (let attempt = 0; attempt < 3; attempt += 1) {
      last().drop();
      vi.advanceTimersByTime(60_000);
    }
    expect(live.state.state).toBe('offline');
    expect(sockets).toHaveLength(4);
  });

  it('resets the attempt count once connected again', () => {
    const live = connect();
    last().drop();
    vi.advanceTimersByTime(1000);
    last().open();
    expect(live.state).toMatchObject({ state: 'live', attempt: 0 });
  });

  it('remembers when the last update arrived', () => {
    const live = connect({ now: () => 1234 });
    last().open();
    last().message(event(1));
    expect(live.state.lastUpdate).toBe(1234);
  });

  it('stops retrying when the server refuses the key', () => {
    const live = connect();
    last().open();
    last().drop(CLOSE_UNAUTHORIZED);
    vi.advanceTimersByTime(120_000);
    expect(sockets).toHaveLength(1);
    expect(live.state).toMatchObject({ state: 'offline', fatal: 'unauthorized' });
  });

  it('tries again with the new key after a restart', () => {
    const live = connect();
    last().drop(CLOSE_UNAUTHORIZED);
    token = 'key-2';
    live.restart();
    last().open();
    expect(last().sent).toEqual([{ type: 'hello', token: 'key-2', resume_after: null }]);
  });

  it('asks views to refetch when the server could not resume', () => {
    const live = connect();
    const resync = vi.fn();
    live.onResync(resync);
    last().open();
    last().message({ type: 'ready', seq: 90, resumed: false });
    expect(resync).toHaveBeenCalledTimes(1);
  });

  it('does not ask for a refetch after a successful resume', () => {
    const live = connect();
    const resync = vi.fn();
    live.onResync(resync);
    last().open();
    last().message({ type: 'ready', seq: 90, resumed: true });
    expect(resync).not.toHaveBeenCalled();
  });

  it('treats a silent socket as dead and reconnects', () => {
    connect({ staleAfterMs: 5000 });
    last().open();
    vi.advanceTimersByTime(5000);
    expect(sockets[0]!.closedWith).toBe(1000);
    vi.advanceTimersByTime(1000);
    expect(sockets).toHaveLength(2);
  });

  it('keeps a socket that receives pings', () => {
    connect({ staleAfterMs: 5000 });
    last().open();
    for (let i = 0; i < 4; i += 1) {
      vi.advanceTimersByTime(4000);
      last().message({ type: 'ping' });
    }
    expect(sockets).toHaveLength(1);
  });

  it('shows offline at once when the browser loses its network', () => {
    const live = connect();
    last().open();
    live.browserOffline();
    expect(live.state.state).toBe('offline');
  });

  it('reconnects at once when the browser is back online, without waiting out the backoff', () => {
    const live = connect({ baseDelayMs: 60_000 });
    last().drop();
    live.browserOnline();
    expect(sockets).toHaveLength(2);
  });

  it('does not reconnect after stop', () => {
    const live = connect();
    last().open();
    live.stop();
    vi.advanceTimersByTime(120_000);
    expect(sockets).toHaveLength(1);
    expect(sockets[0]!.closedWith).toBe(1000);
  });

  it('tells state listeners about each change', () => {
    const live = connect();
    const states: LiveSnapshot['state'][] = [];
    live.onState((snapshot) => states.push(snapshot.state));
    last().open();
    last().drop();
    expect(states).toEqual(['live', 'reconnecting']);
  });
});

describe('backoffDelay', () => {
  it('doubles from the base delay', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, 1000, 30_000, () => 1))).toEqual([1000, 2000, 4000, 8000]);
  });

  it('never exceeds the cap', () => {
    expect(backoffDelay(20, 1000, 30_000, () => 1)).toBe(30_000);
  });

  it('jitters down to half the delay', () => {
    expect(backoffDelay(3, 1000, 30_000, () => 0)).toBe(2000);
  });
});

describe('liveUrl', () => {
  it('uses wss on an https page', () => {
    expect(liveUrl({ protocol: 'https:', host: 'qcl.example:8443' })).toBe('wss://qcl.example:8443/api/ws');
  });

  it('uses ws on an http page', () => {
    expect(liveUrl({ protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/api/ws');
  });
});
