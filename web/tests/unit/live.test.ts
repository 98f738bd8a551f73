/** The live connection against a fake socket and fake timers: reconnect, resume, duplicates, sync state. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  backoffDelay,
  CLOSE_FORBIDDEN,
  CLOSE_UNAUTHORIZED,
  LiveConnection,
  liveUrl,
  resumeUrl,
  subprotocols,
  type LiveSnapshot,
  type SocketLike,
} from '../../src/api/live';

class FakeSocket implements SocketLike {
  closedWith: number | null = null;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason?: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}
  close(code = 1000) {
    this.closedWith = code;
  }
  // what the server does
  open(head = 100) {
    this.onopen?.({});
    const last = new URL(this.url).searchParams.get('last_seq');
    this.message({ seq: last === null ? head : Number(last), type: 'hello', data: { head } });
  }
  message(body: unknown) {
    this.onmessage?.({ data: JSON.stringify(body) });
  }
  drop(code = 1006, reason = '') {
    this.onclose?.({ code, reason });
  }
}

let sockets: FakeSocket[];
let token: string | null;

function connect(overrides: Partial<ConstructorParameters<typeof LiveConnection>[0]> = {}) {
  const live = new LiveConnection({
    url: 'ws://test/api/ws',
    token: () => token,
    createSocket: (url, protocols) => {
      const socket = new FakeSocket(url, protocols);
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
const event = (seq: number, type = 'analysis', data: unknown = { seq }) => ({
  seq,
  type,
  time: '2025-11-12T10:00:00Z',
  data,
});

beforeEach(() => {
  vi.useFakeTimers();
  sockets = [];
  token = 'qcl_1234abcd_secret';
});
afterEach(() => vi.useRealTimers());

describe('LiveConnection', () => {
  it('offers the API key as a subprotocol next to qcl.v1 (browsers cannot set headers on a WebSocket)', () => {
    connect();
    expect(last().protocols).toEqual(['qcl.v1', 'bearer.qcl_1234abcd_secret']);
  });

  it('connects without a resume position the first time', () => {
    connect();
    expect(last().url).toBe('ws://test/api/ws');
  });

  it('resumes after the last sequence number seen when it reconnects', () => {
    connect();
    last().open();
    last().message(event(101));
    last().message(event(102));
    last().drop();
    vi.advanceTimersByTime(1000);
    expect(last().url).toBe('ws://test/api/ws?last_seq=102');
  });

  it('takes the resume position from the server’s hello before any event', () => {
    connect();
    last().open(57);
    last().drop();
    vi.advanceTimersByTime(1000);
    expect(last().url).toBe('ws://test/api/ws?last_seq=57');
  });

  it('delivers events to the handlers of their type only', () => {
    const live = connect();
    const analysis = vi.fn();
    const insights = vi.fn();
    live.on('analysis', analysis);
    live.on('insight', insights);
    last().open();
    last().message(event(101, 'analysis', { a: 1 }));
    expect(analysis).toHaveBeenCalledWith({ a: 1 }, 101);
    expect(insights).not.toHaveBeenCalled();
  });

  it('drops an event it has already seen (replayed after a resume)', () => {
    const live = connect();
    const handler = vi.fn();
    live.on('analysis', handler);
    last().open();
    last().message(event(105));
    last().message(event(105));
    last().message(event(104));
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('ignores a message that is not JSON and keeps going', () => {
    const live = connect();
    const handler = vi.fn();
    live.on('analysis', handler);
    last().open();
    last().onmessage?.({ data: '{oops' });
    last().message(event(101));
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('stops delivering to a handler after unsubscribing', () => {
    const live = connect();
    const handler = vi.fn();
    const off = live.on('analysis', handler);
    last().open();
    off();
    last().message(event(101));
    expect(handler).not.toHaveBeenCalled();
  });

  it('asks views to refetch on resync and continues from the position it names', () => {
    const live = connect();
    const resync = vi.fn();
    const handler = vi.fn();
    live.onResync(resync);
    live.on('analysis', handler);
    last().open();
    last().message({ seq: 900, type: 'resync', data: { reason: 'expired' } });
    last().message(event(900));
    last().message(event(901));
    expect(resync).toHaveBeenCalledTimes(1);
    expect(handler).toHaveBeenCalledTimes(1);
    expect(live.state.lastSeq).toBe(901);
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

  it('remembers when the last message arrived', () => {
    const live = connect({ now: () => 1234 });
    last().open();
    expect(live.state.lastUpdate).toBe(1234);
  });

  it('offers the new key after a restart', () => {
    const live = connect();
    token = 'qcl_99999999_other';
    live.restart();
    expect(last().protocols).toEqual(['qcl.v1', 'bearer.qcl_99999999_other']);
  });

  it('shows offline at once when the browser loses its network', () => {
    const live = connect();
    last().open();
    live.browserOffline();
    expect(live.state.state).toBe('offline');
  });

  it('stays offline through retries while the browser has no network', () => {
    const live = connect();
    last().open();
    live.browserOffline();
    last().drop();
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

  it('ignores a late close of a socket it already replaced', () => {
    const live = connect();
    const first = last();
    first.open();
    live.restart();
    const onclose = vi.fn();
    live.onState(onclose);
    first.drop();
    expect(onclose).not.toHaveBeenCalled();
  });

  it('shows the key refused, with the server’s reason, when the server closes with 4401', () => {
    const live = connect();
    last().drop(CLOSE_UNAUTHORIZED, 'the API key is unknown or revoked');
    expect(live.state.state).toBe('refused');
    expect(live.state.refusal).toBe('the API key is unknown or revoked');
  });

  it('does not retry a refused key (4401 or 4403), however long it waits', () => {
    for (const code of [CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN]) {
      sockets = [];
      const live = connect();
      last().drop(code);
      vi.advanceTimersByTime(10 * 60_000);
      expect(sockets).toHaveLength(1);
      expect(live.state.state).toBe('refused');
      live.stop();
    }
  });

  it('stays refused when the browser comes back online', () => {
    const live = connect();
    last().drop(CLOSE_UNAUTHORIZED);
    live.browserOffline();
    live.browserOnline();
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
    expect(live.state.state).toBe('refused');
  });

  it('connects again with the new key after a restart', () => {
    const live = connect();
    last().drop(CLOSE_UNAUTHORIZED, 'unknown');
    token = 'qcl_9999ffff_fixed';
    live.restart();
    expect(sockets).toHaveLength(2);
    expect(last().protocols).toEqual(['qcl.v1', 'bearer.qcl_9999ffff_fixed']);
    last().open();
    expect(live.state).toMatchObject({ state: 'live', refusal: null });
  });

  it('retries any other close code, e.g. a server going away (1001)', () => {
    const live = connect();
    last().drop(1001);
    expect(live.state.state).toBe('reconnecting');
    vi.advanceTimersByTime(1000);
    expect(sockets).toHaveLength(2);
  });

  it('tells state listeners about each change', () => {
    const live = connect();
    const states: LiveSnapshot['state'][] = [];
    live.onState((snapshot) => states.push(snapshot.state));
    last().onopen?.({});
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

describe('URLs and subprotocols', () => {
  it('uses wss on an https page', () => {
    expect(liveUrl({ protocol: 'https:', host: 'qcl.example:8443' })).toBe('wss://qcl.example:8443/api/ws');
  });

  it('uses ws on an http page', () => {
    expect(liveUrl({ protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/api/ws');
  });

  it('appends last_seq to a URL that has a query already', () => {
    expect(resumeUrl('ws://h/api/ws?x=1', 5)).toBe('ws://h/api/ws?x=1&last_seq=5');
  });

  it('offers only qcl.v1 without a key', () => {
    expect(subprotocols(null)).toEqual(['qcl.v1']);
  });
});
