/**
 * Load data from the API for a component: loading / error / data, refetch every `refreshS` seconds (0 = never),
 * keep showing the last data while a refresh runs, and cancel on unmount. `reload` refetches now.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from '../api/client';

/** Dispatched on window by the "r" shortcut: every mounted useApi refetches. */
export const REFRESH_EVENT = 'qcl:refresh';

export interface ApiState<T> {
  data: T | undefined;
  error: ApiError | null;
  loading: boolean; // true only until the first answer (success or error)
  reload(): void;
  setData(update: (current: T | undefined) => T | undefined): void;
}

export function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  return new ApiError({ kind: 'bad_response', message: error instanceof Error ? error.message : String(error) });
}

export function useApi<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: readonly unknown[],
  {
    refreshS = 0,
    enabled = true,
    merge,
  }: {
    refreshS?: number;
    enabled?: boolean;
    // How a fetched value combines with the current one (default: replaces it). A live update may have arrived
    // while the request was in flight, and must not be overwritten by an older snapshot.
    merge?: (current: T | undefined, fetched: T) => T;
  } = {},
): ApiState<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(enabled);
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const mergeRef = useRef(merge);
  mergeRef.current = merge;

  useEffect(() => {
    if (!enabled) {
      setLoading(false);
      return;
    }
    const controller = new AbortController();
    loadRef.current(controller.signal).then(
      (value) => {
        if (controller.signal.aborted) return;
        setDataState((current) => (mergeRef.current ? mergeRef.current(current, value) : value));
        setError(null);
        setLoading(false);
      },
      (failure: unknown) => {
        if (controller.signal.aborted) return;
        setError(asApiError(failure));
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [...deps, generation, enabled]); // `deps` are the caller's inputs of `load`

  useEffect(() => {
    const onRefresh = () => setGeneration((value) => value + 1);
    window.addEventListener(REFRESH_EVENT, onRefresh);
    return () => window.removeEventListener(REFRESH_EVENT, onRefresh);
  }, []);

  useEffect(() => {
    if (!enabled || refreshS <= 0) return;
    const timer = setInterval(() => setGeneration((value) => value + 1), refreshS * 1000);
    return () => clearInterval(timer);
  }, [refreshS, enabled]);

  const reload = useCallback(() => setGeneration((value) => value + 1), []);
  const setData = useCallback((update: (current: T | undefined) => T | undefined) => setDataState(update), []);
  return { data, error, loading, reload, setData };
}
