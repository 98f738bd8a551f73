/** @vitest-environment jsdom */
/** The Jobs page against a stubbed API: queue by class, usage against quota, roles, cancel, retry (resubmission),
 * the batch form and its 429, the state filter, a job's detail, polling that stops while the tab is hidden. */
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Job } from '../../src/api/types';
import { Jobs, POLL_S } from '../../src/pages/Jobs';
import { forgetRoles } from '../../src/state/admin';
import { job, JOBS, quotas } from '../e2e/mock/computeFixtures';
import { renderWithApp, stubApi, type Routes } from './render';

function routes(role: 'viewer' | 'operator', list: () => Job[] = () => JOBS): Routes {
  return {
    '/api/auth/whoami': () => ({ body: { key_id: '1f2e3d4c', role } }),
    '/api/quotas': () => ({ body: quotas() }),
    '/api/jobs': (init, url) => {
      if (init.method === 'POST') return { status: 202, body: { jobs: ['new-job-1'], batch_id: null } };
      const state = url.searchParams.get('state');
      return { body: { jobs: list().filter((item) => !state || item.state === state) } };
    },
  };
}

function start(extra: Routes = {}, role: 'viewer' | 'operator' = 'operator', list?: () => Job[]) {
  localStorage.setItem('qcl.apiKey', 'k');
  const fetch = stubApi({ ...routes(role, list), ...extra });
  renderWithApp(<Jobs />);
  return fetch;
}

const calls = (fetch: ReturnType<typeof stubApi>, path: string, method = 'GET') =>
  fetch.mock.calls.filter(([input, init]) => new URL(String(input)).pathname === path && (init?.method ?? 'GET') === method);

async function choose(label: string, option: string) {
  fireEvent.mouseDown(screen.getByRole('combobox', { name: label }));
  fireEvent.click(await screen.findByRole('option', { name: option }));
}

beforeEach(() => forgetRoles());
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('jobs page', () => {
  it('shows the queue by class and the key’s usage against its quota', async () => {
    start();
    const queue = await screen.findByTestId('queue-by-class');
    const interactive = within(queue).getByText('互動').closest('tr')!;
    expect(within(interactive).getByTestId('class-queued')).toHaveTextContent('2');
    expect(within(interactive).getByTestId('class-running')).toHaveTextContent('1'); // the running job listed
    const batch = within(queue).getByText('批次').closest('tr')!;
    expect(within(batch).getByTestId('class-queued')).toHaveTextContent('5');
    expect(screen.getByTestId('queue-totals')).toHaveTextContent('全部執行中 3 件，等待重試 1 件。 預估等待 1 分鐘 20 秒。');
    const usage = screen.getByTestId('usage');
    expect(within(usage).getByTestId('usage-daily')).toHaveTextContent('15,000,000 / 20,000,000');
    expect(within(usage).getByRole('progressbar', { name: '今日 token 預算' })).toHaveAttribute('aria-valuenow', '75');
    expect(within(usage).getByTestId('usage-running')).toHaveTextContent('1 / 8');
    expect(within(usage).getByTestId('usage-tpm')).toHaveTextContent('上限 200,000（API 未回報本分鐘用量）');
  });

  it('lets a viewer see the jobs but offers no form, cancel or retry', async () => {
    start({}, 'viewer');
    expect(await screen.findByTestId('viewer-note')).toBeInTheDocument();
    expect(await screen.findByTestId('jobs')).toBeInTheDocument();
    expect(screen.queryByTestId('batch-form')).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /取消工作/ })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /重試工作/ })).not.toBeInTheDocument();
  });

  it('offers cancel for queued and running jobs, retry for dead and failed ones', async () => {
    start();
    await screen.findByTestId('batch-form');
    expect(await screen.findByRole('button', { name: '取消工作 job-running-1' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: '取消工作 job-queued-1' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: '重試工作 job-dead-1' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: '取消工作 job-done-1' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: '重試工作 job-done-1' })).not.toBeInTheDocument();
  });

  it('cancels a queued job and says what became of it', async () => {
    const fetch = start({ '/api/jobs/job-queued-1/cancel': () => ({ body: job('job-queued-1', 'cancelled') }) });
    fireEvent.click(await screen.findByRole('button', { name: '取消工作 job-queued-1' }));
    expect(await screen.findByTestId('jobs-notice')).toHaveTextContent('已要求取消工作 job-queued-1，目前狀態：已取消。');
    expect(calls(fetch, '/api/jobs/job-queued-1/cancel', 'POST')).toHaveLength(1);
  });

  it('retries a dead job by submitting its payload again as a new job, and says so', async () => {
    const fetch = start();
    fireEvent.click(await screen.findByRole('button', { name: '重試工作 job-dead-1' }));
    expect(await screen.findByTestId('jobs-notice')).toHaveTextContent('已將工作 job-dead-1 的內容重新提交為新工作 new-job-1');
    const init = calls(fetch, '/api/jobs', 'POST')[0]![1];
    expect(JSON.parse(String(init!.body))).toEqual({
      kind: 'completion',
      prompt: 'prompt of job-dead-1',
      max_tokens: 32,
      temperature: 0,
      stop: [],
      priority: 'background',
      max_attempts: 3,
    });
  });

  it('submits a batch of prompts with its priority and max tokens', async () => {
    const fetch = start();
    fireEvent.change(await screen.findByTestId('batch-prompts'), { target: { value: 'first\n\n  second  \n' } });
    await choose('優先等級', '互動');
    fireEvent.change(screen.getByRole('spinbutton', { name: '最多 token 數' }), { target: { value: '16' } });
    fireEvent.click(screen.getByRole('button', { name: '提交 2 件工作' }));
    expect(await screen.findByTestId('batch-accepted')).toHaveTextContent('已接受 1 件工作。');
    const init = calls(fetch, '/api/jobs', 'POST')[0]![1];
    expect(JSON.parse(String(init!.body))).toEqual({ kind: 'completion', prompts: ['first', 'second'], priority: 'interactive', max_tokens: 16 });
  });

  it('refuses max tokens out of range before asking the API', async () => {
    const fetch = start();
    fireEvent.change(await screen.findByTestId('batch-prompts'), { target: { value: 'one' } });
    fireEvent.change(screen.getByRole('spinbutton', { name: '最多 token 數' }), { target: { value: '5000' } });
    expect(screen.getByText('請輸入 1 到 1024 的整數')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: '提交 1 件工作' })).toBeDisabled();
    expect(calls(fetch, '/api/jobs', 'POST')).toHaveLength(0);
  });

  it('shows a 429’s Retry-After in words', async () => {
    start({
      '/api/jobs': (init) =>
        init.method === 'POST'
          ? {
              status: 429,
              headers: { 'Retry-After': '90' },
              body: { error: { code: 'quota_tokens_per_minute', message: 'past 200000 tokens per minute', request_id: 'r1' } },
            }
          : { body: { jobs: [] } },
    });
    fireEvent.change(await screen.findByTestId('batch-prompts'), { target: { value: 'one' } });
    fireEvent.click(screen.getByRole('button', { name: '提交 1 件工作' }));
    expect(await screen.findByTestId('retry-after')).toHaveTextContent('已達配額上限：約 1 分鐘 30 秒後可再提交。');
    expect(screen.getByText('past 200000 tokens per minute')).toBeInTheDocument();
  });

  it('filters the list by state and says when none are in it', async () => {
    const fetch = start();
    await screen.findByTestId('jobs');
    await choose('狀態篩選', '失敗');
    expect(await screen.findByText('沒有「失敗」的工作')).toBeInTheDocument();
    const last = calls(fetch, '/api/jobs').at(-1)![0];
    expect(new URL(String(last)).searchParams.get('state')).toBe('failed');
  });

  it('opens a job’s detail: payload, attempts, timings and result', async () => {
    start();
    fireEvent.click(await screen.findByRole('button', { name: '查看工作 job-done-1' }));
    const detail = await screen.findByTestId('job-detail');
    expect(within(detail).getByTestId('job-payload')).toHaveTextContent('prompt of job-done-1');
    expect(within(detail).getByTestId('job-result-text')).toHaveTextContent('answer of job-done-1');
    expect(detail).toHaveTextContent('1 / 3');
    expect(detail).toHaveTextContent('執行 3 秒');
  });

  it('shows a failed job’s error in its detail', async () => {
    start();
    fireEvent.click(await screen.findByRole('button', { name: '查看工作 job-dead-1' }));
    expect(await screen.findByTestId('job-error')).toHaveTextContent('失敗（runtime_error）：the model crashed');
  });

  it('polls while visible, stops while the tab is hidden, announces state changes', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let list = JOBS;
    const fetch = start({}, 'operator', () => list);
    await screen.findByTestId('jobs');
    const before = calls(fetch, '/api/quotas').length;
    list = JOBS.map((item) => (item.id === 'job-queued-1' ? { ...item, state: 'running' as const } : item));
    await act(async () => vi.advanceTimersByTime(POLL_S * 1000));
    await waitFor(() => expect(screen.getByTestId('jobs-announcement')).toHaveTextContent('工作 job-queued-1 現在是「執行中」。'));
    expect(calls(fetch, '/api/quotas').length).toBe(before + 1);

    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    act(() => void document.dispatchEvent(new Event('visibilitychange')));
    const hidden = calls(fetch, '/api/quotas').length;
    await act(async () => vi.advanceTimersByTime(POLL_S * 3000));
    expect(calls(fetch, '/api/quotas').length).toBe(hidden);

    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
    act(() => void document.dispatchEvent(new Event('visibilitychange')));
    await waitFor(() => expect(calls(fetch, '/api/quotas').length).toBe(hidden + 1)); // refreshed on return
  });
});
