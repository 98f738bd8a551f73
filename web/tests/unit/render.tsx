/**
 * Rendering components the way the app does (settings, theme, one live connection), with the two browser
 * boundaries replaced: fetch answers from a route table, and the live socket is a fake the test can drive.
 */
import { render } from '@testing-library/react';
import { ThemeProvider } from '@mui/material/styles';
import type { ReactElement } from 'react';
import { vi } from 'vitest';
import { LiveConnection, type SocketLike } from '../../src/api/live';
import { LiveProvider } from '../../src/state/live';
import { SessionProvider } from '../../src/state/session';
import { SettingsProvider } from '../../src/state/settings';
import { buildTheme } from '../../src/ui/theme';

export type Routes = Record<
  string,
  (init: RequestInit, url: URL) => { status?: number; body: unknown; headers?: Record<string, string> }
>;

/** Answer fetch by path; an unknown path gets the API's 404 body. Returns the mock to inspect calls. */
export function stubApi(routes: Routes) {
  const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(String(input));
    const path = url.pathname;
    const route = routes[path];
    if (!route) {
      return new Response(JSON.stringify({ error: { code: 'not_found', message: `no ${path}`, request_id: 'r-404' } }), {
        status: 404,
      });
    }
    const { status = 200, body, headers } = route(init, url);
    return new Response(JSON.stringify(body), { status, headers });
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

/** A socket that only does what the test makes it do (open, message, close through its handlers). */
export class QuietSocket implements SocketLike {
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  close() {}
}

export function fakeConnection() {
  const sockets: QuietSocket[] = [];
  const connection = new LiveConnection({
    url: 'ws://test/api/ws',
    token: () => null,
    createSocket: () => {
      const socket = new QuietSocket();
      sockets.push(socket);
      return socket;
    },
  });
  return { connection, sockets };
}

export function renderWithApp(ui: ReactElement, connection = fakeConnection().connection) {
  return render(
    <SettingsProvider>
      <SessionProvider>
        <ThemeProvider theme={buildTheme('light')}>
          <LiveProvider connection={connection}>{ui}</LiveProvider>
        </ThemeProvider>
      </SessionProvider>
    </SettingsProvider>,
  );
}
