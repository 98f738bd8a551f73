/**
 * The one live connection (GET /api/ws): reconnects by itself with capped exponential backoff and jitter, resumes
 * after the last sequence number it saw, drops duplicates, and reports a sync state the header shows.
 *
 * Everything it touches outside itself (the socket, timers, clock, randomness) is injected, so tests drive it with a
 * fake socket and fake timers.
 */
import type { LiveHello, LiveServerMessage, LiveTopic, LiveTopics } from './types';

export type SyncState = 'connecting' | 'live' | 'reconnecting' | 'offline';

export interface LiveSnapshot {
  state: SyncState;
  lastUpdate: number | null; // ms since epoch of the last event or ready message
  attempt: number; // failed connection attempts since the last success
  lastSeq: number | null;
  fatal: 'unauthorized' | null; // the server refused the key: no retries until the key changes
}

/** The part of the browser's WebSocket the connection uses. */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number): void;
}

export interface LiveOptions {
  url: string;
  token: () => string | null;
  createSocket?: (url: string) => SocketLike;
  now?: () => number;
  random?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  baseDelayMs?: number; // first retry after about this long
  maxDelayMs?: number; // backoff cap
  offlineAfterAttempts?: number; // show "offline" instead of "reconnecting" from this many failed attempts
  staleAfterMs?: number; // no message (not even a ping) for this long: assume a dead socket and reconnect
}

/** Close codes the server uses to refuse the key (4000 + HTTP status, a common WebSocket convention). */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;
const CLOSE_NORMAL = 1000;

/** Delay before retry number `attempt` (1-based): base × 2^(attempt-1), capped, then scaled by 0.5–1 for jitter. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.5 + random() / 2));
}

type Handler<T extends LiveTopic> = (data: LiveTopics[T], seq: number) => void;

export class LiveConnection {
  private socket: SocketLike | null = null;
  private retryTimer: unknown = null;
  private staleTimer: unknown = null;
  private stopped = true;
  private networkDown = false;
  private snapshot: LiveSnapshot = { state: 'offline', lastUpdate: null, attempt: 0, lastSeq: null, fatal: null };
  private readonly handlers = new Map<LiveTopic, Set<Handler<LiveTopic>>>();
  private readonly stateListeners = new Set<(snapshot: LiveSnapshot) => void>();
  private readonly resyncListeners = new Set<() => void>();
  private readonly options: Required<LiveOptions>;

  constructor(options: LiveOptions) {
    this.options = {
      createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
      now: () => Date.now(),
      random: Math.random,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
      baseDelayMs: 1000,
      maxDelayMs: 30_000,
      offlineAfterAttempts: 5,
      staleAfterMs: 90_000,
      ...options,
    };
  }

  get state(): LiveSnapshot {
    return this.snapshot;
  }

  /** Open the connection (idempotent). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.update({ state: 'connecting', fatal: null });
    this.open();
  }

  /** Close for good (until `start` again). */
  stop(): void {
    this.stopped = true;
    this.clearTimers();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      this.detach(socket);
      socket.close(CLOSE_NORMAL);
    }
    this.update({ state: 'offline' });
  }

  /** Reconnect now (the key changed, or the browser came back online); keeps the resume position. */
  restart(): void {
    this.stop();
    this.update({ attempt: 0 });
    this.start();
  }

  /** The browser lost its network: show offline at once instead of waiting for the socket to notice. */
  browserOffline(): void {
    this.networkDown = true;
    if (!this.stopped) this.update({ state: 'offline' });
  }

  /** The browser is back online: retry now instead of waiting out the backoff. */
  browserOnline(): void {
    this.networkDown = false;
    if (!this.stopped && this.snapshot.state !== 'live') this.restart();
  }

  on<T extends LiveTopic>(topic: T, handler: Handler<T>): () => void {
    const set = this.handlers.get(topic) ?? new Set();
    set.add(handler as Handler<LiveTopic>);
    this.handlers.set(topic, set);
    return () => set.delete(handler as Handler<LiveTopic>);
  }

  onState(listener: (snapshot: LiveSnapshot) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Called when the server could not resume (events were missed): views should refetch their REST snapshots. */
  onResync(listener: () => void): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  private open(): void {
    const socket = this.options.createSocket(this.options.url);
    this.socket = socket;
    socket.onopen = () => {
      const hello: LiveHello = { type: 'hello', token: this.options.token(), resume_after: this.snapshot.lastSeq };
      socket.send(JSON.stringify(hello));
      this.networkDown = false;
      this.update({ state: 'live', attempt: 0 });
      this.armStaleTimer();
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = (event) => this.closed(socket, event.code);
    socket.onerror = () => undefined; // a close event always follows; it decides what happens next
  }

  private receive(raw: unknown): void {
    this.armStaleTimer();
    let message: LiveServerMessage;
    try {
      message = JSON.parse(String(raw)) as LiveServerMessage;
    } catch {
      return; // not ours to crash on: the next valid message carries on
    }
    if (message.type === 'ready') {
      this.update({ lastUpdate: this.options.now(), lastSeq: message.seq });
      if (!message.resumed) this.resyncListeners.forEach((listener) => listener());
    } else if (message.type === 'event') {
      const last = this.snapshot.lastSeq;
      if (last !== null && message.seq <= last) return; // already seen before the reconnect
      this.update({ lastSeq: message.seq, lastUpdate: this.options.now() });
      this.handlers.get(message.topic)?.forEach((handler) => handler(message.data as never, message.seq));
    }
  }

  private closed(socket: SocketLike, code: number): void {
    if (socket !== this.socket) return; // an old socket we already replaced
    this.detach(socket);
    this.socket = null;
    this.clearTimers();
    if (this.stopped) return;
    if (code === CLOSE_UNAUTHORIZED || code === CLOSE_FORBIDDEN) {
      this.stopped = true;
      this.update({ state: 'offline', fatal: 'unauthorized' });
      return;
    }
    const attempt = this.snapshot.attempt + 1;
    const state: SyncState =
      this.networkDown || attempt >= this.options.offlineAfterAttempts ? 'offline' : 'reconnecting';
    this.update({ attempt, state });
    const delay = backoffDelay(attempt, this.options.baseDelayMs, this.options.maxDelayMs, this.options.random);
    this.retryTimer = this.options.setTimer(() => {
      this.retryTimer = null;
      if (!this.stopped) this.open();
    }, delay);
  }

  private armStaleTimer(): void {
    if (this.staleTimer !== null) this.options.clearTimer(this.staleTimer);
    this.staleTimer = this.options.setTimer(() => {
      this.staleTimer = null;
      const socket = this.socket;
      if (socket) {
        this.detach(socket);
        socket.close(CLOSE_NORMAL);
        this.closed(socket, 1006); // treat silence as a dropped connection
      }
    }, this.options.staleAfterMs);
  }

  private clearTimers(): void {
    if (this.retryTimer !== null) this.options.clearTimer(this.retryTimer);
    if (this.staleTimer !== null) this.options.clearTimer(this.staleTimer);
    this.retryTimer = null;
    this.staleTimer = null;
  }

  private detach(socket: SocketLike): void {
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = null;
  }

  private update(change: Partial<LiveSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...change };
    this.stateListeners.forEach((listener) => listener(this.snapshot));
  }
}

/** The WebSocket URL of the API on this page's origin. */
export function liveUrl(location: Pick<Location, 'protocol' | 'host'>): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/ws`;
}
