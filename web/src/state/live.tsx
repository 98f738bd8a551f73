/** The app's one LiveConnection, its sync state for the header, and hooks for pages to follow topics. */
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { LiveConnection, liveUrl, type LiveSnapshot } from '../api/live';
import type { LiveTopic, LiveTopics } from '../api/types';
import { useSession } from './session';
import { useSettings } from './settings';

const LiveContext = createContext<LiveConnection | null>(null);

export function LiveProvider({ children, connection }: { children: ReactNode; connection?: LiveConnection }) {
  const { apiKey } = useSettings();
  const keyRef = useRef(apiKey);
  keyRef.current = apiKey;
  const [live] = useState(
    () => connection ?? new LiveConnection({ url: liveUrl(window.location), token: () => keyRef.current }),
  );

  useEffect(() => {
    live.start();
    const offline = () => live.browserOffline();
    const online = () => live.browserOnline();
    window.addEventListener('offline', offline);
    window.addEventListener('online', online);
    return () => {
      window.removeEventListener('offline', offline);
      window.removeEventListener('online', online);
      live.stop();
    };
  }, [live]);

  // A new key, or a session cookie the login URL just set (the upgrade carries it), authenticates a new connection;
  // the resume position carries over. (Compared with the credential in use, not "first render": StrictMode runs
  // mount effects twice.)
  const { status } = useSession();
  const credential = apiKey ?? status;
  const connectedKey = useRef(credential);
  useEffect(() => {
    if (connectedKey.current === credential) return;
    connectedKey.current = credential;
    live.restart();
  }, [credential, live]);

  return <LiveContext.Provider value={live}>{children}</LiveContext.Provider>;
}

export function useLive(): LiveConnection {
  const live = useContext(LiveContext);
  if (!live) throw new Error('useLive outside LiveProvider');
  return live;
}

export function useSyncState(): LiveSnapshot {
  const live = useLive();
  const [snapshot, setSnapshot] = useState(live.state);
  useEffect(() => {
    setSnapshot(live.state);
    return live.onState(setSnapshot);
  }, [live]);
  return snapshot;
}

/** Call `handler` for each live event of `topic` while the component is mounted. */
export function useLiveTopic<T extends LiveTopic>(topic: T, handler: (data: LiveTopics[T]) => void): void {
  const live = useLive();
  const handlerRef = useRef(handler);
  handlerRef.current = handler;
  useEffect(() => live.on(topic, (data) => handlerRef.current(data)), [live, topic]);
}

/** Call `handler` when the server says events were missed (the page should refetch). */
export function useResync(handler: () => void): void {
  const live = useLive();
  const handlerRef = useRef(handler);
  handlerRef.current = handler;
  useEffect(() => live.onResync(() => handlerRef.current()), [live]);
}
