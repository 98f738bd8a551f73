/** @vitest-environment jsdom */
/** The app shell and pages in jsdom against a stubbed API: loading, empty and live states, language, shortcuts, Ask. */
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { render } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AnalysisReport } from '../../src/api/types';
import { App } from '../../src/App';
import { forgetRoles } from '../../src/state/admin';
import { forgetLogins } from '../../src/state/session';
import { answer, history, latest, NARRATIVE } from '../e2e/mock/fixtures';
import { fakeConnection, stubApi, type Routes } from './render';

const routes: Routes = {
  '/api/network/latest': () => ({ body: latest() }),
  '/api/network/history': () => ({ body: { reports: history(0) } }),
  '/api/insights': () => ({ body: { insights: [NARRATIVE] } }),
};

function start(extra: Routes = {}, hash = '#/overview') {
  window.location.hash = hash;
  localStorage.setItem('qcl.apiKey', 'k');
  const fetch = stubApi({ ...routes, ...extra });
  const live = fakeConnection();
  render(<App connection={live.connection} />);
  return { fetch, ...live };
}

beforeEach(() => {
  vi.stubGlobal('matchMedia', (query: string) => ({
    matches: query.includes('min-width'), // a desktop-wide window, light scheme
    media: query,
    addEventListener() {},
    removeEventListener() {},
    addListener() {},
    removeListener() {},
  }));
});
afterEach(() => vi.unstubAllGlobals());

describe('overview', () => {
  it('shows skeletons while loading, then the health score', async () => {
    start();
    expect(screen.getByLabelText('載入中…')).toHaveAttribute('aria-busy', 'true');
    expect(await screen.findByTestId('health-score')).toHaveTextContent('72');
  });

  it('says there is no report yet when the API has none', async () => {
    start({ '/api/network/latest': () => ({ status: 404, body: { error: { code: 'not_found', message: 'none', request_id: 'r' } } }) });
    expect(await screen.findByText('尚無分析報告')).toBeInTheDocument();
  });

  it('shows a readable error, not a blank panel, when the API fails', async () => {
    start({ '/api/network/latest': () => ({ status: 500, body: { error: { code: 'internal', message: 'boom', request_id: 'r-500' } } }) });
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('伺服器發生錯誤');
    expect(alert).toHaveTextContent('請求編號：r-500');
  });

  it('shows the newest narrative in the reader’s language, saying how much older its report is', async () => {
    const english = { ...NARRATIVE, id: 'en-1', language: 'en' as const, text: 'The network is degraded.' };
    const older = { ...NARRATIVE, report_observed_at: new Date(Date.parse(latest().observed_at) - 7 * 60_000).toISOString() };
    start({ '/api/insights': () => ({ body: { insights: [english, older] } }) });
    const freshness = await screen.findByTestId('insight-freshness');
    expect(freshness).toHaveAttribute('data-state', 'older');
    expect(freshness).toHaveTextContent('比最新報告早 7 分鐘');
    expect(screen.getByTestId('narrate-latest')).toHaveTextContent('為最新報告撰寫解讀');
    expect(screen.getByText(NARRATIVE.text)).toBeInTheDocument();
    expect(screen.queryByText('The network is degraded.')).toBeNull();
  });

  it('updates the health score from a live analysis event', async () => {
    const { sockets } = start();
    await screen.findByTestId('health-score');
    const next: AnalysisReport = { ...latest(), health_score: 41, status: 'critical' };
    act(() => {
      sockets[0]!.onopen?.({});
      sockets[0]!.onmessage?.({ data: JSON.stringify({ seq: 1, type: 'analysis', time: '', data: next }) });
    });
    expect(screen.getByTestId('health-score')).toHaveTextContent('41');
    expect(screen.getByTestId('health-status')).toHaveTextContent('危急');
  });
});

describe('shell', () => {
  it('switches every text to English from the header button', async () => {
    start();
    await screen.findByTestId('health-score');
    fireEvent.click(screen.getByTestId('toggle-language'));
    expect(screen.getByTestId('page-title')).toHaveTextContent('Overview');
    expect(screen.getByText('Network health')).toBeInTheDocument();
    expect(document.documentElement.lang).toBe('en');
    expect(localStorage.getItem('qcl.language')).toBe('en');
  });

  it('opens the shortcut overlay on ?', async () => {
    start();
    fireEvent.keyDown(window, { key: '?' });
    expect(await screen.findByRole('dialog')).toHaveTextContent('鍵盤快捷鍵');
  });

  it('goes to a page on its number key', async () => {
    start();
    fireEvent.keyDown(window, { key: '4' });
    await waitFor(() => expect(window.location.hash).toBe('#/oracle'));
  });

  it('asks for an API key when none is stored', async () => {
    window.location.hash = '#/overview';
    stubApi(routes);
    render(<App connection={fakeConnection().connection} />);
    expect(await screen.findByTestId('no-key')).toHaveTextContent('尚未設定 API 金鑰');
  });
});

describe('the login URL of qcl up', () => {
  afterEach(() => {
    forgetLogins();
    forgetRoles();
    window.history.replaceState(null, '', '/');
  });

  function open(login: Routes[string]) {
    forgetLogins(); // the page's token is taken once per load: earlier tests' renders were loads without one
    window.history.replaceState(null, '', '/?login=one-time-token#/overview');
    const fetch = stubApi({
      ...routes,
      '/api/auth/login': login,
      '/api/auth/logout': () => ({ body: { signed_out: true } }),
      '/api/auth/whoami': () => ({ body: { key_id: 'session:1', role: 'admin' } }),
    });
    render(<App connection={fakeConnection().connection} />);
    return fetch;
  }

  it('signs in without a key, once, and takes the token out of the address bar', async () => {
    const fetch = open(() => ({ body: { role: 'admin', session: 'session:1', expires_at: '2026-12-05T21:00:00Z' } }));
    expect(window.location.search).toBe('');
    expect(window.location.hash).toBe('#/overview');
    await waitFor(() => expect(fetch.mock.calls.some((call) => String(call[0]).endsWith('/api/auth/login'))).toBe(true));
    const logins = fetch.mock.calls.filter((call) => String(call[0]).endsWith('/api/auth/login'));
    expect(logins).toHaveLength(1);
    expect((logins[0]![1] as RequestInit).body).toBe('{"token":"one-time-token"}');
    expect(await screen.findByTestId('health-score')).toHaveTextContent('72');
    expect(screen.queryByTestId('no-key')).toBeNull();
  });

  it('signs out from Settings: the session ends (with the CSRF header) and Settings asks for a key again', async () => {
    const fetch = open(() => ({ body: { role: 'admin', session: 'session:1', expires_at: '2026-12-05T21:00:00Z' } }));
    window.location.hash = '#/settings';
    fireEvent.click(await screen.findByTestId('sign-out'));
    await waitFor(() => expect(screen.getByTestId('api-key-state')).toHaveTextContent('尚未儲存金鑰'));
    const logout = fetch.mock.calls.find((call) => String(call[0]).endsWith('/api/auth/logout'));
    expect((logout![1] as RequestInit).method).toBe('POST');
    expect(((logout![1] as RequestInit).headers as Record<string, string>)['X-QCL-CSRF']).toBe('1');
  });

  it('says a used link was used, and shows the key wall', async () => {
    open(() => ({ status: 401, body: { error: { code: 'login_used', message: 'used', request_id: 'r' } } }));
    expect(await screen.findByTestId('login-error')).toHaveTextContent('這個登入連結已經用過了');
    expect(await screen.findByTestId('no-key')).toBeInTheDocument();
  });
});

describe('ask', () => {
  const askRoutes: Routes = {
    '/api/ai/question': (init) => {
      const body = JSON.parse(String(init.body)) as { question: string; language: 'zh-TW' | 'en' };
      return { body: answer(body.question, body.language) };
    },
  };

  it('hides voice input where the browser has no speech recognition', async () => {
    start(askRoutes, '#/ask');
    await screen.findByLabelText('你的問題');
    expect(screen.queryByTestId('voice-input')).toBeNull();
  });

  it('offers voice input where the browser has speech recognition', async () => {
    vi.stubGlobal('webkitSpeechRecognition', class {});
    start(askRoutes, '#/ask');
    expect(await screen.findByTestId('voice-input')).toHaveAccessibleName('語音輸入');
  });

  it('asks a quick template and shows the answer with its sources and the question', async () => {
    const { fetch } = start(askRoutes, '#/ask');
    fireEvent.click(await screen.findByText('網路健康嗎？'));
    const answers = screen.getByTestId('answers'); // the live region is always there
    expect(await within(answers).findByTestId('badge-fallback')).toBeInTheDocument();
    expect(within(answers).getAllByTestId('insight-source')).toHaveLength(2);
    expect(within(answers).getByText('問：網路健康嗎？')).toBeInTheDocument();
    const post = fetch.mock.calls.find(([url]) => String(url).endsWith('/api/ai/question'))!;
    expect(JSON.parse(String(post[1]!.body))).toEqual({ question: '網路健康嗎？', language: 'zh-TW' });
  });

  it('filters the history by the search words', async () => {
    start(askRoutes, '#/ask');
    await screen.findByTestId('history');
    fireEvent.change(screen.getByLabelText('搜尋歷史'), { target: { value: '不存在的字' } });
    expect(screen.getByText('沒有符合「不存在的字」的紀錄')).toBeInTheDocument();
  });
});
