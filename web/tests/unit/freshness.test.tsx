/** @vitest-environment jsdom */
/**
 * The Overview's AI insight and the report it is about: the same as the latest (said so), or older (how much, and
 * a button that files a narration task, follows it to done and refetches the insights).
 */
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Task } from '../../src/api/types';
import { ageMinutes, insightFreshness } from '../../src/lib/freshness';
import { InsightFreshness } from '../../src/ui/InsightFreshness';
import { renderWithApp, stubApi } from './render';

afterEach(() => vi.unstubAllGlobals());

describe('insightFreshness', () => {
  it('is current when the insight is about the latest report (or a newer one)', () => {
    expect(insightFreshness('2025-11-12T10:00:00Z', '2025-11-12T10:00:00.000Z')).toEqual({ state: 'current' });
    expect(insightFreshness('2025-11-12T10:00:30Z', '2025-11-12T10:00:00Z')).toEqual({ state: 'current' });
  });

  it('is older by the difference of the two reports’ times', () => {
    expect(insightFreshness('2025-11-12T09:53:00Z', '2025-11-12T10:00:00Z')).toEqual({ state: 'older', ageMs: 420_000 });
  });

  it('is unknown without both times', () => {
    expect(insightFreshness(null, '2025-11-12T10:00:00Z')).toEqual({ state: 'unknown' });
    expect(insightFreshness('2025-11-12T10:00:00Z', undefined)).toEqual({ state: 'unknown' });
  });

  it('says at least one minute', () => {
    expect([ageMinutes(30_000), ageMinutes(420_000)]).toEqual([1, 7]);
  });
});

const task = (state: Task['state'], error: Task['error'] = null): Task => ({
  id: 't1',
  kind: 'narration',
  state,
  created_at: '2025-11-12T10:00:00Z',
  updated_at: '2025-11-12T10:00:01Z',
  submitted_by: 'k1',
  request: { kind: 'narration', language: 'zh-TW' },
  job: null,
  result: null,
  error,
  started_at: null,
  worker: null,
});

describe('InsightFreshness', () => {
  it('says the insight is about the latest report, with no button', () => {
    stubApi({});
    renderWithApp(<InsightFreshness reportObservedAt="2025-11-12T10:00:00Z" latestObservedAt="2025-11-12T10:00:00Z" onNarrated={() => {}} />);
    expect(screen.getByTestId('insight-freshness')).toHaveTextContent('關於 10:00 的報告（最新報告）');
    expect(screen.queryByTestId('narrate-latest')).toBeNull();
  });

  it('says how much older the report is, and narrates the latest on request', async () => {
    let polls = 0;
    const fetch = stubApi({
      '/api/tasks': () => ({ status: 202, body: task('queued') }),
      '/api/tasks/t1': () => ({ body: task((polls += 1) < 2 ? 'running' : 'done') }),
    });
    const onNarrated = vi.fn();
    renderWithApp(<InsightFreshness reportObservedAt="2025-11-12T09:53:00Z" latestObservedAt="2025-11-12T10:00:00Z" onNarrated={onNarrated} />);
    expect(screen.getByTestId('insight-freshness')).toHaveTextContent('關於 09:53 的報告（比最新報告早 7 分鐘）');
    fireEvent.click(screen.getByTestId('narrate-latest'));
    await waitFor(() => expect(screen.getByTestId('narrate-latest')).toHaveTextContent('撰寫中…'));
    const post = fetch.mock.calls.find(([url, init]) => String(url).endsWith('/api/tasks') && init?.method === 'POST')!;
    expect(JSON.parse(String(post[1]!.body))).toEqual({ kind: 'narration', language: 'zh-TW' });
    await waitFor(() => expect(onNarrated).toHaveBeenCalledTimes(1), { timeout: 8000 });
    expect(polls).toBe(2);
    expect(screen.getByTestId('narrate-latest')).toHaveTextContent('為最新報告撰寫解讀');
  });

  it('says why when the narration task fails', async () => {
    stubApi({
      '/api/tasks': () => ({ status: 202, body: task('queued') }),
      '/api/tasks/t1': () => ({ body: task('failed', { code: 'timeout', message: 'no outcome after 120 s' }) }),
    });
    const onNarrated = vi.fn();
    renderWithApp(<InsightFreshness reportObservedAt="2025-11-12T09:53:00Z" latestObservedAt="2025-11-12T10:00:00Z" onNarrated={onNarrated} />);
    fireEvent.click(screen.getByTestId('narrate-latest'));
    expect(await screen.findByText('撰寫解讀的工作失敗：no outcome after 120 s', {}, { timeout: 5000 })).toBeInTheDocument();
    expect(onNarrated).not.toHaveBeenCalled();
  });
});
