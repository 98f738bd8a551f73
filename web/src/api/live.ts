/**
 * The one live connection (GET /api/ws): reconnects by itself with capped exponential backoff and jitter, resumes
 * after the last sequence number it saw (`?last_seq=N`), drops duplicates, and reports a sync state the header shows.
 *
 * Protocol (qcl/api/routes_ops.py): browsers cannot set headers on a WebSocket, so the key travels as the
 * subprotocol `bearer.<key>` next to `qcl.v1`. The server sends `hello` (the position it continues from), `resync`
 * when events after our position have expired (views must reload over REST), then {seq, type, time, data} events.
 * It pings at the WebSocket level every 25 s; the browser answers those itself. A key the server refuses still gets
 * the handshake, then close code 4401 (no key, or an unknown or revoked one) or 4403 (a role too low) with the reason:
 * the state turns `refused` and no retry follows until `restart` (the key changed).
 *
 * Everything it touches outside itself (the socket, timers, clock, randomness) is injected, so tests drive it with a
 * fake socket and fake timers.
 */
import type { LiveServerMessage, LiveTopic, LiveTopics } from './types';

export type SyncState = 'connecting' | 'live' | 'reconnecting' | 'offline' | 'refused';

export interface LiveSnapshot {
  state: SyncState;
  lastUpdate: number | null; // ms since epoch of the last message from the server
  attempt: number; // failed connection attempts since the last success
  lastSeq: number | null;
  refusal: string | null; // the server's reason when it refused the key (state `refused`)
}

/** The part of the browser's WebSocket the connection uses. */
export interface SocketLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(code?: number): void;
}

export interface LiveOptions {
  url: string;
  token: () => string | null;
  createSocket?: (url: string, protocols: string[]) => SocketLike;
  now?: () => number;
  random?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  baseDelayMs?: number; // first retry after about this long
  maxDelayMs?: number; // backoff cap
  offlineAfterAttempts?: number; // show "offline" instead of "reconnecting" from this many failed attempts
}

export const SUBPROTOCOL = 'qcl.v1';
const CLOSE_NORMAL = 1000;
/** Close codes of a refused key (qcl/api/routes_ops.py): HTTP's 401 and 403 plus 4000. */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;

/** Delay before retry number `attempt` (1-based): base × 2^(attempt-1), capped, then scaled by 0.5–1 for jitter. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.5 + random() / 2));
}

/** The subprotocols to offer: ours, and the key where there is one. */
export function subprotocols(token: string | null): string[] {
  return token ? [SUBPROTOCOL, `bearer.${token}`] : [SUBPROTOCOL];
}

/** The socket URL for a (re)connect: resume after `lastSeq` when we have one. */
export function resumeUrl(url: string, lastSeq: number | null): string {
  return lastSeq === null ? url : `${url}${url.includes('?') ? '&' : '?'}last_seq=${lastSeq}`;
}

type Handler<T extends LiveTopic> = (data: LiveTopics[T], seq: number) => void;

export class LiveConnection {
  private socket: SocketLike | null = null;
  private retryTimer: unknown = null;
  private stopped = true;
  private networkDown = false;
  private snapshot: LiveSnapshot = { state: 'offline', lastUpdate: null, attempt: 0, lastSeq: null, refusal: null };
  private readonly handlers = new Map<LiveTopic, Set<Handler<LiveTopic>>>();
  private readonly stateListeners = new Set<(snapshot: LiveSnapshot) => void>();
  private readonly resyncListeners = new Set<() => void>();
  private readonly options: Required<LiveOptions>;

  constructor(options: LiveOptions) {
    this.options = {
      createSocket: (url, protocols) => new WebSocket(url, protocols) as unknown as SocketLike,
      now: () => Date.now(),
      random: Math.random,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
      baseDelayMs: 1000,
      maxDelayMs: 30_000,
      offlineAfterAttempts: 5,
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
    this.update({ state: 'connecting' });
    this.open();
  }

  /** Close for good (until `start` again). */
  stop(): void {
    this.stopped = true;
    this.clearRetry();
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
    this.update({ attempt: 0, refusal: null });
    this.start();
  }

  /** The browser lost its network: show offline at once instead of waiting for the socket to notice. */
  browserOffline(): void {
    this.networkDown = true;
    if (!this.stopped && this.snapshot.state !== 'refused') this.update({ state: 'offline' });
  }

  /** The browser is back online: retry now instead of waiting out the backoff (a refused key stays refused). */
  browserOnline(): void {
    this.networkDown = false;
    if (!this.stopped && this.snapshot.state !== 'live' && this.snapshot.state !== 'refused') this.restart();
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
    const url = resumeUrl(this.options.url, this.snapshot.lastSeq);
    const socket = this.options.createSocket(url, subprotocols(this.options.token()));
    this.socket = socket;
    socket.onopen = () => {
      this.networkDown = false;
      this.update({ state: 'live', attempt: 0 });
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = (event) => this.closed(socket, event);
    socket.onerror = () => undefined; // a close event always follows; it decides what happens next
  }

  private receive(raw: unknown): void {
    let message: LiveServerMessage;
    try {
      message = JSON.parse(String(raw)) as LiveServerMessage;
    } catch {
      return; // not ours to crash on: the next valid message carries on
    }
    if (typeof message.seq !== 'number') return;
    if (message.type === 'hello') {
      this.update({ lastSeq: message.seq, lastUpdate: this.options.now() });
      return;
    }
    if (message.type === 'resync') {
      this.update({ lastSeq: message.seq, lastUpdate: this.options.now() });
      this.resyncListeners.forEach((listener) => listener());
      return;
    }
    const last = this.snapshot.lastSeq;
    if (last !== null && message.seq <= last) return; // already seen before the reconnect
    this.update({ lastSeq: message.seq, lastUpdate: this.options.now() });
    this.handlers.get(message.type)?.forEach((handler) => handler(message.data as never, message.seq));
  }

  private closed(socket: SocketLike, event: { code: number; reason?: string }): void {
    if (socket !== this.socket) return; // an old socket we already replaced
    this.detach(socket);
    this.socket = null;
    this.clearRetry();
    if (this.stopped) return;
    if (event.code === CLOSE_UNAUTHORIZED || event.code === CLOSE_FORBIDDEN) {
      // The same key would be refused again: wait for a new one (restart) instead of retrying.
      this.update({ state: 'refused', refusal: event.reason || null, attempt: 0 });
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

  private clearRetry(): void {
    if (this.retryTimer !== null) this.options.clearTimer(this.retryTimer);
    this.retryTimer = null;
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
