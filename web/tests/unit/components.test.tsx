/** @vitest-environment jsdom */
/** Components with logic, rendered in jsdom: error explanations, insight badges and sources, sync state. */
import { act, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../src/api/client';
import type { InsightView } from '../../src/lib/history';
import { ApiErrorAlert } from '../../src/ui/ApiErrorAlert';
import { InsightCard } from '../../src/ui/InsightCard';
import { SyncIndicator } from '../../src/ui/SyncIndicator';
import { fakeConnection, renderWithApp } from './render';

afterEach(() => vi.unstubAllGlobals());

const insight: InsightView = {
  id: 'e1',
  time: '2025-11-12T10:00:02Z',
  request_id: null,
  report_observed_at: '2025-11-12T10:00:00Z',
  fallback_reason: null,
  grounding_issues: [],
  kind: 'narrative',
  text: '網路目前降級。',
  language: 'zh-TW',
  model: 'smollm2',
  grounded: true,
  fallback_used: false,
  confidence: 0.82,
  sources: ['empty_ticks_high', 'latest_stats.price_usd', 'moon_phase'],
  latency_ms: 412,
};

describe('ApiErrorAlert', () => {
  it('explains the error in the user’s language with the server’s words, field and request id', () => {
    const error = new ApiError({ kind: 'invalid', message: 'too long', field: 'question', requestId: 'req-9' });
    renderWithApp(<ApiErrorAlert error={error} />);
    expect(screen.getByRole('alert')).toHaveTextContent('請求內容有誤');
    expect(screen.getByRole('alert')).toHaveTextContent('欄位 question：too long');
    expect(screen.getByRole('alert')).toHaveTextContent('請求編號：req-9');
  });

  it('sends an unauthorized user to the settings for a key', () => {
    renderWithApp(<ApiErrorAlert error={new ApiError({ kind: 'unauthorized', message: 'bad key' })} />);
    expect(screen.getByRole('link', { name: '前往設定輸入 API 金鑰' })).toHaveAttribute('href', '#/settings');
  });

  it('offers a retry that calls back', () => {
    const retry = vi.fn();
    renderWithApp(<ApiErrorAlert error={new ApiError({ kind: 'server', message: 'boom' })} onRetry={retry} />);
    act(() => screen.getByRole('button', { name: '重試' }).click());
    expect(retry).toHaveBeenCalledOnce();
  });

  it('says when to try again after a rate limit', () => {
    renderWithApp(<ApiErrorAlert error={new ApiError({ kind: 'rate_limited', message: 'slow', retryAfterS: 90 })} />);
    expect(screen.getByRole('alert')).toHaveTextContent('請於 1 分鐘 30 秒後再試。'); // Retry-After: 90, in words
  });
});

describe('InsightCard', () => {
  it('shows confidence as a percentage', () => {
    renderWithApp(<InsightCard insight={insight} />);
    expect(screen.getByText('信心度 82%')).toBeInTheDocument();
  });

  it('badges a grounded insight as verified', () => {
    renderWithApp(<InsightCard insight={insight} />);
    expect(screen.getByTestId('badge-grounded')).toHaveTextContent('數據已核實');
    expect(screen.queryByTestId('badge-fallback')).toBeNull();
  });

  it('badges a template answer as exact, with the reason the template was used in words', () => {
    renderWithApp(
      <InsightCard insight={{ ...insight, grounded: false, fallback_used: true, fallback_reason: 'ungrounded: 9.9%' }} />,
    );
    expect(screen.getByTestId('badge-fallback')).toHaveTextContent('範本回答：數字直接取自資料');
    expect(screen.getByTestId('fallback-reason')).toHaveTextContent(
      '未採用模型文字的原因：模型的措辭未通過與報告數字的核對。（9.9%）',
    );
    expect(screen.getByTestId('fallback-reason')).toHaveAttribute('title', 'ungrounded: 9.9%');
    expect(screen.queryByTestId('badge-not-grounded')).toBeNull();
  });

  it('warns about a model text whose numbers were not all verified', () => {
    renderWithApp(<InsightCard insight={{ ...insight, grounded: false, fallback_used: false }} />);
    expect(screen.getByTestId('badge-not-grounded')).toHaveTextContent('數據未完全核實');
  });

  it('links each source to where the overview shows it, with finding codes named in words', () => {
    renderWithApp(<InsightCard insight={insight} presentFindings={new Set(['empty_ticks_high'])} />);
    expect(screen.getByRole('link', { name: '空 tick 增加' })).toHaveAttribute('href', '#/overview?focus=finding-empty_ticks_high');
    expect(screen.getByRole('link', { name: 'latest_stats.price_usd' })).toHaveAttribute('href', '#/overview?focus=chart-price');
  });

  it('shows a source with no place on the page as plain text', () => {
    renderWithApp(<InsightCard insight={insight} />);
    expect(screen.queryByRole('link', { name: 'moon_phase' })).toBeNull();
    expect(screen.getByText('moon_phase')).toBeInTheDocument();
  });

  it('marks the text with its language for screen readers', () => {
    renderWithApp(<InsightCard insight={{ ...insight, language: 'en', text: 'Degraded.' }} />);
    expect(screen.getByText('Degraded.')).toHaveAttribute('lang', 'en');
  });
});

describe('SyncIndicator', () => {
  it('shows reconnecting with the attempt number', () => {
    const { connection, sockets } = fakeConnection();
    renderWithApp(<SyncIndicator />, connection);
    act(() => sockets[0]!.onclose?.({ code: 1006 }));
    expect(screen.getByTestId('sync-state')).toHaveTextContent('重新連線中（第 1 次）');
  });

  it('shows live once the socket opens', () => {
    const { connection, sockets } = fakeConnection();
    renderWithApp(<SyncIndicator />, connection);
    act(() => sockets[0]!.onopen?.({}));
    expect(screen.getByTestId('sync-state')).toHaveAttribute('data-state', 'live');
    expect(screen.getByTestId('sync-state')).toHaveTextContent('即時');
  });

  it('shows a refused key without retrying, and why on hover', () => {
    const { connection, sockets } = fakeConnection();
    renderWithApp(<SyncIndicator />, connection);
    act(() => sockets[0]!.onclose?.({ code: 4401, reason: 'the API key is unknown or revoked' }));
    expect(screen.getByTestId('sync-state')).toHaveAttribute('data-state', 'refused');
    expect(screen.getByTestId('sync-state')).toHaveTextContent('金鑰遭拒');
    expect(screen.getByTestId('sync-state')).not.toHaveTextContent('最後更新');
  });

  it('shows offline with the time of the last update', () => {
    const { connection, sockets } = fakeConnection();
    renderWithApp(<SyncIndicator />, connection);
    act(() => {
      sockets[0]!.onopen?.({});
      sockets[0]!.onmessage?.({ data: JSON.stringify({ seq: 1, type: 'hello', data: { head: 1 } }) });
    });
    vi.spyOn(Date, 'now').mockReturnValue(Date.parse('2025-11-12T10:00:00Z'));
    act(() => connection.browserOffline());
    expect(screen.getByTestId('sync-state')).toHaveTextContent('離線');
    expect(screen.getByTestId('sync-state')).toHaveTextContent(/最後更新 \d\d:\d\d:\d\d UTC/);
  });
});
