/** @vitest-environment jsdom */
/** The Alerts page and the navigation's badge against a stubbed API: active alerts with their findings, runbook and
 * failed deliveries, the history, silences by state, roles, the silence form's checks, a 422 unknown_rule and a 503
 * without Alertmanager, expiring a silence; the badge's count, its page colour, its polling and its silence on error. */
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../src/api/client';
import type { Silence } from '../../src/api/types';
import { App } from '../../src/App';
import { alertCounts, alertingUnavailable, parseMatchers, silenceForm, sortSilences } from '../../src/lib/alerts';
import { Alerts, POLL_S } from '../../src/pages/Alerts';
import { forgetRoles } from '../../src/state/admin';
import { BADGE_POLL_S } from '../../src/ui/AlertsBadge';
import { alertList, LAG, NODE_DOWN, RULES, SILENCE_ACTIVE, SILENCE_EXPIRED } from '../e2e/mock/alertFixtures';
import { fakeConnection, renderWithApp, stubApi, type Routes } from './render';

const UNAVAILABLE = {
  status: 503,
  body: { error: { code: 'alerting_unavailable', message: 'no Alertmanager is configured (QCL_ALERTMANAGER_URL, QCL_PROMETHEUS_URL)', request_id: 'r503' } },
};

function routes(role: 'viewer' | 'operator', silences: () => Silence[] = () => [SILENCE_EXPIRED, SILENCE_ACTIVE]): Routes {
  return {
    '/api/auth/whoami': () => ({ body: { key_id: '1f2e3d4c', role } }),
    '/api/ops/alerts': () => ({ body: alertList() }),
    '/api/ops/silences': (init) => {
      if (init.method === 'POST') return { status: 201, body: { id: 'new-silence-1' } };
      return { body: { silences: silences() } };
    },
  };
}

function start(extra: Routes = {}, role: 'viewer' | 'operator' = 'operator') {
  localStorage.setItem('qcl.apiKey', 'k');
  const fetch = stubApi({ ...routes(role), ...extra });
  renderWithApp(<Alerts />);
  return fetch;
}

const calls = (fetch: ReturnType<typeof stubApi>, path: string, method = 'GET') =>
  fetch.mock.calls.filter(([input, init]) => new URL(String(input)).pathname === path && (init?.method ?? 'GET') === method);

const field = (name: RegExp) => screen.getByLabelText(name, { selector: 'input' });

beforeEach(() => forgetRoles());
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('alert logic', () => {
  it('counts firing alerts and those that page', () => {
    expect(alertCounts([NODE_DOWN, LAG])).toEqual({ total: 2, page: 1 });
    expect(alertCounts([{ ...NODE_DOWN, status: 'resolved' }, LAG])).toEqual({ total: 1, page: 0 });
    expect(alertCounts([])).toEqual({ total: 0, page: 0 });
  });

  it('reads further labels as name=value, refusing anything else', () => {
    expect(parseMatchers('')).toEqual({});
    expect(parseMatchers('role=shard, instance = 10.0.0.7:9100\njob=a=b')).toEqual({ role: 'shard', instance: '10.0.0.7:9100', job: 'a=b' });
    expect(parseMatchers('role')).toBeNull();
    expect(parseMatchers('=shard')).toBeNull();
    expect(parseMatchers('role=')).toBeNull();
    expect(parseMatchers('9role=x')).toBeNull();
    expect(parseMatchers('alertname=Other')).toBeNull(); // the rule is the form's first field
    expect(parseMatchers(Array.from({ length: 11 }, (_, i) => `l${i}=v`).join(','))).toBeNull();
  });

  it('turns the form into the API’s request, within its bounds', () => {
    const form = { alertname: ' QclNodeDown ', amount: '2', unit: 'hour' as const, comment: ' draining ', matchers: 'role=shard' };
    expect(silenceForm(form)).toEqual({
      ok: true,
      request: { alertname: 'QclNodeDown', duration_s: 7200, comment: 'draining', matchers: { role: 'shard' } },
    });
    expect(silenceForm({ ...form, matchers: '' })).toEqual({ ok: true, request: { alertname: 'QclNodeDown', duration_s: 7200, comment: 'draining' } });
    expect(silenceForm({ ...form, amount: '1', unit: 'minute' })).toMatchObject({ ok: true, request: { duration_s: 60 } });
    expect(silenceForm({ ...form, amount: '30', unit: 'day' })).toMatchObject({ ok: true, request: { duration_s: 2_592_000 } });
    expect(silenceForm({ ...form, amount: '0.5', unit: 'minute' })).toEqual({ ok: false, errors: { duration: true } });
    expect(silenceForm({ ...form, amount: '31', unit: 'day' })).toEqual({ ok: false, errors: { duration: true } });
    expect(silenceForm({ ...form, amount: '' })).toEqual({ ok: false, errors: { duration: true } });
    expect(silenceForm({ alertname: 'Qcl Node', amount: '1', unit: 'hour', comment: '', matchers: 'x' })).toEqual({
      ok: false,
      errors: { alertname: true, comment: true, matchers: true },
    });
  });

  it('orders silences active, pending, expired', () => {
    const pending = { ...SILENCE_ACTIVE, id: 'p', state: 'pending' as const };
    expect(sortSilences([SILENCE_EXPIRED, pending, SILENCE_ACTIVE]).map((item) => item.state)).toEqual(['active', 'pending', 'expired']);
  });

  it('tells the 503 of an API without Alertmanager from other failures', () => {
    expect(alertingUnavailable(new ApiError({ kind: 'unavailable', status: 503, code: 'alerting_unavailable', message: 'x' }))).toBe(true);
    expect(alertingUnavailable(new ApiError({ kind: 'unavailable', status: 503, code: 'store_unavailable', message: 'x' }))).toBe(false);
    expect(alertingUnavailable(null)).toBe(false);
  });
});

describe('alerts page', () => {
  it('shows each firing alert: severity, rule, summary, since when, where, runbook, findings, failed deliveries', async () => {
    start({}, 'viewer');
    const card = (await screen.findAllByRole('article')).find((item) => item.getAttribute('data-alert') === NODE_DOWN.fingerprint)!;
    expect(within(card).getByTestId('alert-severity')).toHaveTextContent('緊急');
    expect(within(card).getByRole('heading', { name: 'QclNodeDown' })).toBeInTheDocument();
    expect(within(card).getByTestId('alert-summary')).toHaveTextContent('1 shard node(s) down');
    expect(within(card).getByTestId('alert-since')).toHaveTextContent('自 2025/11/12 08:00 UTC 起');
    expect(within(card).getByTestId('alert-labels')).toHaveTextContent('instance=10.0.0.7:9100job=qcl-nodesrole=shard');
    expect(within(card).getByTestId('alert-runbook')).toHaveTextContent('docs/runbooks/QclNodeDown.md');
    expect(within(card).getByTestId('alert-findings')).toHaveTextContent('node_down（critical）：shard-1 has not sent a heartbeat for 90 s');
    expect(within(card).getByTestId('alert-delivery-failed')).toHaveTextContent('通知管道 pagerduty 傳送失敗：HTTP 503 from events.pagerduty.com');
    expect(within(card).queryByText(/slack/)).not.toBeInTheDocument(); // a delivery that worked is not news
    const lag = screen.getAllByRole('article').find((item) => item.getAttribute('data-alert') === LAG.fingerprint)!;
    expect(within(lag).getByTestId('alert-severity')).toHaveTextContent('待處理');
    expect(within(lag).queryByTestId('alert-delivery-failed')).not.toBeInTheDocument();
    expect(screen.getByRole('heading', { name: '觸發中的警報（2）' })).toBeInTheDocument();
  });

  it('lists the history of state changes newest first', async () => {
    start({}, 'viewer');
    const rows = within(await screen.findByTestId('alert-history')).getAllByRole('row').slice(1);
    expect(rows.map((row) => within(row).getByTestId('alert-status').textContent)).toEqual(['觸發中', '觸發中', '已解決', '觸發中']);
    expect(rows[2]).toHaveTextContent('2025/11/12 07:30 UTC');
  });

  it('lets a viewer see silences (active first) but offers no form and no expire', async () => {
    start({}, 'viewer');
    expect(await screen.findByTestId('viewer-note')).toBeInTheDocument();
    const rows = within(await screen.findByTestId('silences')).getAllByRole('row').slice(1);
    expect(rows.map((row) => within(row).getByTestId('silence-state').textContent)).toEqual(['生效中', '已過期']);
    expect(rows[0]).toHaveTextContent('alertname=QclNodeDown, role=shard');
    expect(rows[0]).toHaveTextContent('maintenance window');
    expect(screen.queryByTestId('silence-form')).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /解除靜音/ })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /靜音規則/ })).not.toBeInTheDocument();
  });

  it('silences a rule from its alert for a while, with labels, and lists the new silence', async () => {
    let listed = [SILENCE_ACTIVE];
    const fetch = start({
      '/api/ops/silences': (init) => {
        if (init.method !== 'POST') return { body: { silences: listed } };
        listed = [...listed, { ...SILENCE_ACTIVE, id: 'new-silence-1', comment: 'draining shard-1' }];
        return { status: 201, body: { id: 'new-silence-1' } };
      },
    });
    fireEvent.click(await screen.findByRole('button', { name: '靜音規則 QclNodeDown' }));
    await waitFor(() => expect(field(/^警報規則名稱/)).toHaveValue('QclNodeDown'));
    expect(field(/^警報規則名稱/)).toHaveFocus();
    fireEvent.change(screen.getByRole('spinbutton', { name: /^時長/ }), { target: { value: '2' } });
    fireEvent.change(field(/^原因說明/), { target: { value: 'draining shard-1' } });
    fireEvent.change(field(/^其他比對標籤/), { target: { value: 'role=shard' } });
    fireEvent.click(screen.getByRole('button', { name: '建立靜音' }));
    expect(await screen.findByTestId('alerts-notice')).toHaveTextContent('已建立靜音 new-silence-1。');
    expect(JSON.parse(String(calls(fetch, '/api/ops/silences', 'POST')[0]![1]!.body))).toEqual({
      alertname: 'QclNodeDown',
      duration_s: 7200,
      comment: 'draining shard-1',
      matchers: { role: 'shard' },
    });
    await waitFor(() => expect(screen.getByText('draining shard-1')).toBeInTheDocument()); // the list was reloaded
  });

  it('checks the form before asking the API and says what is wrong', async () => {
    const fetch = start();
    await screen.findByTestId('silence-form');
    fireEvent.change(field(/^警報規則名稱/), { target: { value: 'Qcl Node' } });
    fireEvent.change(screen.getByRole('spinbutton', { name: /^時長/ }), { target: { value: '31' } });
    fireEvent.mouseDown(screen.getByRole('combobox', { name: '單位' }));
    fireEvent.click(await screen.findByRole('option', { name: '天' }));
    fireEvent.change(field(/^其他比對標籤/), { target: { value: 'role' } });
    fireEvent.click(screen.getByRole('button', { name: '建立靜音' }));
    expect(screen.getByText('規則名稱只能有英文字母、數字與底線，且不以數字開頭')).toBeInTheDocument();
    expect(screen.getByText(/^請輸入 1 分鐘到 30\s*天之間的時長$/)).toBeInTheDocument();
    expect(screen.getByText('請填寫原因（最多 500 字）')).toBeInTheDocument();
    expect(screen.getByText('請寫成 名稱=值（最多 10 個，不可用 alertname）')).toBeInTheDocument();
    expect(field(/^警報規則名稱/)).toHaveAttribute('aria-invalid', 'true');
    expect(calls(fetch, '/api/ops/silences', 'POST')).toHaveLength(0);
  });

  it('shows the API’s 422 for a rule that does not exist, naming the rules there are', async () => {
    start({
      '/api/ops/silences': (init) =>
        init.method === 'POST'
          ? {
              status: 422,
              body: { error: { code: 'unknown_rule', message: `no alert rule 'QclNodeDwn'; rules: ${RULES.join(', ')}`, request_id: 'r422' } },
            }
          : { body: { silences: [] } },
    });
    await screen.findByTestId('silence-form');
    fireEvent.change(field(/^警報規則名稱/), { target: { value: 'QclNodeDwn' } });
    fireEvent.change(field(/^原因說明/), { target: { value: 'typo' } });
    fireEvent.click(screen.getByRole('button', { name: '建立靜音' }));
    const alert = await within(screen.getByTestId('silence-form')).findByRole('alert');
    expect(alert).toHaveTextContent("no alert rule 'QclNodeDwn'; rules: QclApiAbsent, QclBusLagHigh, QclNodeDown");
    expect(alert).toHaveTextContent('請求編號：r422');
    expect(screen.getByText('沒有這個警報規則；下方訊息列出現有的規則')).toBeInTheDocument();
    expect(field(/^警報規則名稱/)).toHaveAttribute('aria-invalid', 'true');
    fireEvent.change(field(/^警報規則名稱/), { target: { value: 'QclNodeDown' } }); // fixing the name clears it
    expect(within(screen.getByTestId('silence-form')).queryByRole('alert')).not.toBeInTheDocument();
  });

  it('explains a 503 without Alertmanager, stops asking for silences and still shows the alerts', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const fetch = start({ '/api/ops/silences': () => UNAVAILABLE });
    expect(await screen.findByTestId('alerting-unavailable')).toHaveTextContent('尚未設定警報系統');
    expect(screen.queryByTestId('silence-form')).not.toBeInTheDocument();
    expect(screen.queryByText('服務暫時無法使用')).not.toBeInTheDocument(); // a state, not an error
    expect(screen.queryByRole('button', { name: /靜音規則/ })).not.toBeInTheDocument();
    expect(await screen.findByTestId('active-alerts')).toBeInTheDocument();
    const asked = calls(fetch, '/api/ops/silences').length;
    const alerts = calls(fetch, '/api/ops/alerts').length;
    await act(async () => vi.advanceTimersByTime(POLL_S * 1000));
    await act(async () => vi.advanceTimersByTime(POLL_S * 1000));
    expect(calls(fetch, '/api/ops/silences').length).toBe(asked);
    expect(calls(fetch, '/api/ops/alerts').length).toBe(alerts + 2);
  });

  it('shows another failure of the silences route as an error with a retry', async () => {
    start({ '/api/ops/silences': () => ({ status: 500, body: { error: { code: 'internal', message: 'boom', request_id: 'r500' } } }) });
    expect(await screen.findByText('boom')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: '重試' })).toBeInTheDocument();
    expect(screen.queryByTestId('alerting-unavailable')).not.toBeInTheDocument();
  });

  it('expires an active silence', async () => {
    const fetch = start({
      [`/api/ops/silences/${SILENCE_ACTIVE.id}`]: () => ({ body: { id: SILENCE_ACTIVE.id } }),
    });
    expect(screen.queryByRole('button', { name: `解除靜音 ${SILENCE_EXPIRED.id}` })).not.toBeInTheDocument();
    fireEvent.click(await screen.findByRole('button', { name: `解除靜音 ${SILENCE_ACTIVE.id}` }));
    expect(await screen.findByTestId('alerts-notice')).toHaveTextContent(`已解除靜音 ${SILENCE_ACTIVE.id}。`);
    expect(calls(fetch, `/api/ops/silences/${SILENCE_ACTIVE.id}`, 'DELETE')).toHaveLength(1);
  });

  it('says so when nothing fires', async () => {
    start({ '/api/ops/alerts': () => ({ body: { active: [], history: [] } }) }, 'viewer');
    expect(await screen.findByText('目前沒有觸發中的警報')).toBeInTheDocument();
    expect(screen.getByText('尚無警報狀態變化')).toBeInTheDocument();
  });
});

describe('the navigation badge', () => {
  beforeEach(() => {
    vi.stubGlobal('matchMedia', (query: string) => ({
      matches: query.includes('min-width'),
      media: query,
      addEventListener() {},
      removeEventListener() {},
      addListener() {},
      removeListener() {},
    }));
  });

  function startApp(alerts: Routes[string]) {
    window.location.hash = '#/settings';
    localStorage.setItem('qcl.apiKey', 'k');
    const fetch = stubApi({ '/api/auth/whoami': () => ({ body: { key_id: 'k', role: 'viewer' } }), '/api/ops/alerts': alerts });
    render(<App connection={fakeConnection().connection} />);
    return fetch;
  }

  it('counts the firing alerts, red when one pages, and says so in words', async () => {
    startApp(() => ({ body: alertList() }));
    const badge = await screen.findByTestId('alerts-badge');
    expect(badge).toHaveAttribute('data-page', 'true');
    expect(badge).toHaveTextContent('2');
    expect(within(screen.getByTestId('nav-alerts')).getByText('2 個警報觸發中，其中 1 個需要立即處理')).toBeInTheDocument();
  });

  it('is not red when no alert pages, and refreshes every 15 s', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let active = [LAG];
    const fetch = startApp(() => ({ body: alertList(active) }));
    expect(await screen.findByTestId('alerts-badge')).toHaveAttribute('data-page', 'false');
    active = [];
    await act(async () => vi.advanceTimersByTime(BADGE_POLL_S * 1000));
    await waitFor(() => expect(screen.queryByTestId('alerts-badge')).not.toBeInTheDocument());
    expect(calls(fetch, '/api/ops/alerts').length).toBe(2);
  });

  it('is hidden when the key may not read alerts or the route fails', async () => {
    const fetch = startApp(() => ({ status: 403, body: { error: { code: 'forbidden', message: 'no', request_id: 'r' } } }));
    await waitFor(() => expect(calls(fetch, '/api/ops/alerts')).toHaveLength(1));
    await screen.findByTestId('page-title');
    expect(screen.queryByTestId('alerts-badge')).not.toBeInTheDocument();
    expect(screen.queryByText('這把 API 金鑰沒有權限執行此操作')).not.toBeInTheDocument();
  });

  it('asks nothing without a key', () => {
    window.location.hash = '#/settings';
    localStorage.removeItem('qcl.apiKey');
    const fetch = stubApi({});
    render(<App connection={fakeConnection().connection} />);
    expect(calls(fetch, '/api/ops/alerts')).toHaveLength(0);
    expect(screen.queryByTestId('alerts-badge')).not.toBeInTheDocument();
  });
});
