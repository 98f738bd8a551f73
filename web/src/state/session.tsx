/**
 * The dashboard session opened by `qcl up`'s one-time login URL (`/?login=<token>`): on load the token is taken
 * out of the address bar at once (it must not linger in history or be copied along with the URL), exchanged for
 * the HttpOnly session cookie, and the app is signed in without any API key. Without a token, a saved key wins;
 * without one either, whoami tells whether the browser still holds a live session from an earlier visit.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiError } from '../api/client';
import { api } from '../api/endpoints';
import { useSettings } from './settings';

export type SessionStatus = 'checking' | 'signed-in' | 'signed-out';

export interface SessionState {
  status: SessionStatus;
  /** Why the login URL did not sign in: the API's error code (login_used, login_expired, login_invalid, ...). */
  loginError: string | null;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionState | null>(null);
const LOGIN_PARAM = 'login';
// One exchange per token: React's StrictMode runs effects twice, and a token's second use is refused.
const logins = new Map<string, Promise<string | null>>();

/** The login token of the current URL, removed from the address bar (the page does not reload). */
export function takeLoginToken(): string | null {
  const url = new URL(window.location.href);
  const token = url.searchParams.get(LOGIN_PARAM);
  if (token === null) return null;
  url.searchParams.delete(LOGIN_PARAM);
  window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
  return token;
}

/** null when the token signed in, else why not (the API's error code). */
function exchange(token: string): Promise<string | null> {
  let answer = logins.get(token);
  if (!answer) {
    answer = api.login(token).then(
      () => null,
      (error: unknown) => (error instanceof ApiError ? (error.code ?? error.kind) : 'network'),
    );
    logins.set(token, answer);
  }
  return answer;
}

let pageToken: string | null | undefined; // taken once per page load (StrictMode renders twice)

function loginTokenOnce(): string | null {
  if (pageToken === undefined) pageToken = takeLoginToken();
  return pageToken;
}

/** Forget the page's token and the exchanges (tests load several "pages"). */
export function forgetLogins(): void {
  pageToken = undefined;
  logins.clear();
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const { apiKey } = useSettings();
  const [token] = useState(loginTokenOnce);
  const [status, setStatus] = useState<SessionStatus>(token || !apiKey ? 'checking' : 'signed-out');
  const [loginError, setLoginError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    const settle = (next: SessionStatus) => current && setStatus(next);
    if (token) {
      void exchange(token).then((refusal) => {
        if (!current) return;
        setLoginError(refusal);
        setStatus(refusal ? 'signed-out' : 'signed-in');
      });
    } else if (!apiKey) {
      api.whoami().then(
        () => settle('signed-in'),
        () => settle('signed-out'),
      );
    }
    return () => {
      current = false;
    };
  }, [token, apiKey]);

  const signOut = useCallback(async () => {
    await api.logout();
    setStatus('signed-out');
  }, []);

  const value = useMemo<SessionState>(() => ({ status, loginError, signOut }), [status, loginError, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside SessionProvider');
  return session;
}
