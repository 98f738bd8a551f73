/**
 * Overview: health, tick, epoch progress (time to the next Wednesday 12:00 UTC transition), tick quality, market,
 * the price chart (1 h / 24 h as the history allows), anomalies by severity, and the latest AI insight whose sources
 * link to these panels (with which report it is about, and how much older than the latest that one is). REST gives the first picture; `network-analysis` and `ai-insights` events keep it current.
 */
import { Box, LinearProgress, List, ListItem, Skeleton, Stack, ToggleButton, ToggleButtonGroup, Typography } from '@mui/material';
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { api } from '../api/endpoints';
import type { AnalysisReport } from '../api/types';
import {
  appendReport,
  availableWindows,
  metricPoints,
  newerReport,
  summarize,
  windowSeries,
  type ChartWindow,
} from '../lib/chartData';
import { epochProgress } from '../lib/epoch';
import { findingMessage, sortFindings } from '../lib/findings';
import { mergeInsights } from '../lib/history';
import {
  formatCompact,
  formatDateTime,
  formatDuration,
  formatInteger,
  formatPercent,
  formatPrice,
  formatTime,
} from '../lib/format';
import { focusFromHash } from '../lib/route';
import { findingAnchor, sourceTarget } from '../lib/sources';
import { useApi } from '../lib/useApi';
import { useNow } from '../lib/useNow';
import { useLiveTopic, useResync } from '../state/live';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { HealthChip, SeverityChip } from '../ui/chips';
import { EmptyState } from '../ui/EmptyState';
import { highlight } from '../ui/highlight';
import { InsightCard } from '../ui/InsightCard';
import { InsightFreshness } from '../ui/InsightFreshness';
import { LineChart } from '../ui/LineChart';
import { Panel } from '../ui/Panel';
import { LoadingBlock } from '../ui/Loading';

const HISTORY_SPAN_MS = 86_400_000;

function Figure({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <Box>
      <Typography variant="body2" color="text.secondary" component="dt">
        {label}
      </Typography>
      <Typography
        variant="h6"
        component="dd"
        sx={{ m: 0, fontVariantNumeric: 'tabular-nums', overflowWrap: 'anywhere' }}
        data-testid={testId}
      >
        {value}
      </Typography>
    </Box>
  );
}

function Figures({ children }: { children: ReactNode }) {
  return (
    <Box component="dl" sx={{ m: 0, display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(140px, 1fr))', gap: 1.5 }}>
      {children}
    </Box>
  );
}

function CardsSkeleton({ label }: { label: string }) {
  return (
    <Box sx={gridSx} role="progressbar" aria-busy="true" aria-label={label}>
      {[0, 1, 2, 3, 4].map((index) => (
        <Skeleton key={index} variant="rounded" height={150} aria-hidden />
      ))}
    </Box>
  );
}

const gridSx = {
  display: 'grid',
  gap: 2,
  gridTemplateColumns: { xs: '1fr', sm: 'repeat(2, minmax(0, 1fr))', lg: 'repeat(3, minmax(0, 1fr))' },
} as const;

export function Overview() {
  const { t, language, refreshS } = useSettings();
  const latest = useApi((signal) => api.latestAnalysis({ signal }), [], { refreshS, merge: newerReport });
  const [receivedAt, setReceivedAt] = useState(() => Date.now());
  const [anchor, setAnchor] = useState<string | null>(null); // observed_at the history was fetched up to
  const history = useApi(
    (signal) => {
      const to = new Date(anchor!);
      return api.history(new Date(to.getTime() - HISTORY_SPAN_MS), to, { signal }).then((body) => body.reports);
    },
    [anchor],
    { enabled: anchor !== null },
  );
  const insights = useApi((signal) => api.insights(5, { signal }).then((body) => body.insights), [], { refreshS });
  const [chartWindow, setChartWindow] = useState<ChartWindow>('1h');
  const now = useNow(1000);

  const report = latest.data;
  useEffect(() => {
    if (report) setReceivedAt(Date.now());
    if (report && anchor === null) setAnchor(report.observed_at);
  }, [report, anchor]);

  useLiveTopic('analysis', (next: AnalysisReport) => {
    latest.setData((current) => newerReport(current, next));
    history.setData((current) => appendReport(current ?? [], next, HISTORY_SPAN_MS));
  });
  useLiveTopic('insight', (next) => insights.setData((current) => mergeInsights([next], current ?? []).slice(0, 5)));
  useResync(() => {
    latest.reload();
    history.reload();
    insights.reload();
  });

  // An insight source clicked on another page lands here with ?focus=<panel>.
  // A finding that is no longer listed falls back to the panel of its metric.
  const hasReport = report !== undefined;
  useEffect(() => {
    const focus = focusFromHash(window.location.hash);
    if (!focus || !hasReport) return;
    requestAnimationFrame(() => {
      const code = focus.replace(/^finding-/, '');
      highlight(document.getElementById(focus) ? focus : (sourceTarget(code, new Set()) ?? 'findings'));
    });
  }, [hasReport]);

  const pricePoints = useMemo(() => metricPoints(history.data ?? [], (m) => m.price_usd), [history.data]);
  const windows = availableWindows(pricePoints);
  const shownWindow = windows.includes(chartWindow) ? chartWindow : '1h';
  const series = windowSeries(pricePoints, shownWindow);
  const stats = summarize(series.points);

  const presentFindings = useMemo(() => new Set((report?.findings ?? []).map((finding) => finding.code)), [report]);
  // The newest narrative in the reader's language (the narrator writes each in both), else the newest insight.
  const narratives = (insights.data ?? []).filter((item) => item.kind === 'narrative');
  const insight = narratives.find((item) => item.language === language) ?? narratives[0] ?? insights.data?.[0];

  if (latest.loading) return <CardsSkeleton label={t('state.loading')} />;
  if (latest.error && !report) {
    if (latest.error.kind === 'not_found')
      return <EmptyState title={t('overview.noReport')} hint={t('overview.noReportHint')} />;
    return <ApiErrorAlert error={latest.error} onRetry={latest.reload} />;
  }
  if (!report) return <EmptyState title={t('overview.noReport')} hint={t('overview.noReportHint')} />;

  const metrics = report.metrics;
  const dataNow = Date.parse(report.observed_at) + (now - receivedAt);
  const epoch = epochProgress(new Date(dataNow));
  const findings = sortFindings(report.findings);
  const firstOfCode = new Set<string>();

  return (
    <Stack spacing={2}>
      {latest.error && <ApiErrorAlert error={latest.error} onRetry={latest.reload} />}
      <Box sx={gridSx}>
        <Panel id="card-health" title={t('overview.health')}>
          <Stack direction="row" spacing={2} sx={{ alignItems: 'center' }}>
            <Typography variant="h3" component="p" data-testid="health-score" sx={{ fontWeight: 700 }}>
              {report.health_score}
            </Typography>
            <Stack spacing={0.5} sx={{ alignItems: 'flex-start' }}>
              <HealthChip status={report.status} />
              <Typography variant="body2" color="text.secondary">
                {t('overview.asOf', { time: formatDateTime(report.observed_at, language) })}
              </Typography>
            </Stack>
          </Stack>
          <Typography variant="body2" color="text.secondary" sx={{ mt: 1 }}>
            {t('overview.windowObservations', { count: formatInteger(report.window_observations, language) })}
          </Typography>
        </Panel>

        <Panel id="card-tick" title={t('overview.tick')}>
          {metrics ? (
            <Figures>
              <Figure label={t('metric.tick')} value={formatInteger(metrics.tick, language)} testId="metric-tick" />
              <Figure
                label={t('metric.tickRate')}
                value={metrics.tick_rate_per_s === null ? '—' : t('unit.perSecond', { value: metrics.tick_rate_per_s.toFixed(2) })}
              />
              <Figure label={t('metric.tickDuration')} value={formatDuration(metrics.tick_duration_s * 1000, language)} />
              <Figure
                label={t('metric.archiveLag')}
                value={metrics.archive_lag_ticks === null ? '—' : formatInteger(metrics.archive_lag_ticks, language)}
              />
            </Figures>
          ) : (
            <EmptyState title={t('overview.noMetrics')} />
          )}
        </Panel>

        <Panel id="card-epoch" title={t('overview.epoch')}>
          <Typography variant="h5" component="p" sx={{ mb: 1 }}>
            {metrics ? t('overview.epochNumber', { epoch: metrics.epoch }) : '—'}
          </Typography>
          <Typography variant="body2" id="epoch-progress-label">
            {t('overview.epochProgress', { percent: formatPercent(epoch.fraction * 100, language) })}
          </Typography>
          <LinearProgress
            variant="determinate"
            value={epoch.fraction * 100}
            aria-labelledby="epoch-progress-label"
            sx={{ height: 8, borderRadius: 4, my: 1 }}
          />
          <Typography variant="body2" data-testid="epoch-countdown">
            {t('overview.nextTransition', {
              duration: formatDuration(epoch.msToNext, language),
              time: formatDateTime(epoch.next, language),
            })}
          </Typography>
        </Panel>

        <Panel id="card-quality" title={t('overview.quality')}>
          {metrics ? (
            <Figures>
              <Figure label={t('metric.epochQuality')} value={formatPercent(metrics.epoch_tick_quality_pct, language, { digits: 2 })} />
              <Figure
                label={t('metric.last10kQuality')}
                value={
                  metrics.tick_quality_last_10k_pct === null
                    ? '—'
                    : formatPercent(metrics.tick_quality_last_10k_pct, language, { digits: 2 })
                }
              />
              <Figure
                label={t('metric.emptyTicks')}
                value={t('overview.ofTotal', {
                  count: formatInteger(metrics.empty_ticks_in_epoch, language),
                  total: formatInteger(metrics.ticks_in_epoch, language),
                })}
              />
            </Figures>
          ) : (
            <EmptyState title={t('overview.noMetrics')} />
          )}
        </Panel>

        <Panel id="card-supply" title={t('overview.market')}>
          {metrics ? (
            <Figures>
              <Figure label={t('metric.price')} value={formatPrice(metrics.price_usd, language)} testId="metric-price" />
              <Figure
                label={t('metric.change1h')}
                value={metrics.price_change_1h_pct === null ? '—' : formatPercent(metrics.price_change_1h_pct, language, { signed: true, digits: 2 })}
              />
              <Figure
                label={t('metric.change24h')}
                value={metrics.price_change_24h_pct === null ? '—' : formatPercent(metrics.price_change_24h_pct, language, { signed: true, digits: 2 })}
              />
              <Figure label={t('metric.marketCap')} value={`$${formatCompact(metrics.market_cap_usd, language)}`} />
              <Figure label={t('metric.supply')} value={formatCompact(metrics.circulating_supply, language)} />
              <Figure label={t('metric.activeAddresses')} value={formatInteger(metrics.active_addresses, language)} />
            </Figures>
          ) : (
            <EmptyState title={t('overview.noMetrics')} />
          )}
        </Panel>

        <Box id="card-insight" sx={{ minWidth: 0 }}>
          {insights.loading ? (
            <LoadingBlock height={220} />
          ) : insights.error && !insight ? (
            <ApiErrorAlert error={insights.error} onRetry={insights.reload} />
          ) : insight ? (
            <InsightCard insight={insight} presentFindings={presentFindings} onOverview headingLevel="h2">
              {/* The card belongs to the latest report, or says how much older its report is. */}
              <InsightFreshness
                reportObservedAt={insight.report_observed_at}
                latestObservedAt={report?.observed_at}
                onNarrated={insights.reload}
              />
            </InsightCard>
          ) : (
            <Panel title={t('insight.latest')}>
              <EmptyState title={t('insight.none')} hint={t('insight.noneHint')} />
            </Panel>
          )}
        </Box>
      </Box>

      <Panel
        id="chart-price"
        title={t('overview.priceChart')}
        action={
          <ToggleButtonGroup
            size="small"
            exclusive
            value={shownWindow}
            onChange={(_event, value: ChartWindow | null) => value && setChartWindow(value)}
            aria-label={t('overview.chartWindow')}
          >
            <ToggleButton value="1h" disabled={!windows.includes('1h')}>
              {t('overview.window1h')}
            </ToggleButton>
            <ToggleButton value="24h" disabled={!windows.includes('24h')}>
              {t('overview.window24h')}
            </ToggleButton>
          </ToggleButtonGroup>
        }
      >
        {history.loading || (anchor === null && !history.data) ? (
          <LoadingBlock height={220} />
        ) : history.error && !history.data ? (
          <ApiErrorAlert error={history.error} onRetry={history.reload} />
        ) : series.points.length < 2 || !stats ? (
          <EmptyState title={t('overview.noHistory')} hint={t('overview.noHistoryHint')} />
        ) : (
          <>
            <LineChart
              points={series.points}
              xMin={series.start ?? undefined}
              xMax={series.end ?? undefined}
              label={t('metric.price')}
              formatX={(ms) => formatTime(ms, language, { seconds: false })}
              formatY={(value) => formatPrice(value, language)}
              description={t('overview.chartSummary', {
                min: formatPrice(stats.min, language),
                max: formatPrice(stats.max, language),
                last: formatPrice(stats.last, language),
              })}
            />
            {!windows.includes('24h') && (
              <Typography variant="caption" color="text.secondary">
                {t('overview.only1h')}
              </Typography>
            )}
          </>
        )}
      </Panel>

      <Panel id="findings" title={t('overview.findings', { count: findings.length })}>
        {findings.length === 0 ? (
          <EmptyState title={t('overview.noFindings')} />
        ) : (
          <List disablePadding data-testid="findings">
            {findings.map((finding, index) => {
              const id = firstOfCode.has(finding.code) ? undefined : findingAnchor(finding.code);
              firstOfCode.add(finding.code);
              return (
                <ListItem
                  key={`${finding.code}-${finding.observed_at}-${index}`}
                  id={id}
                  tabIndex={id ? -1 : undefined}
                  divider
                  sx={{ alignItems: 'flex-start', gap: 1.5, px: 0, flexWrap: { xs: 'wrap', sm: 'nowrap' } }}
                >
                  <SeverityChip severity={finding.severity} />
                  <Box sx={{ minWidth: 0 }}>
                    <Typography variant="body2" sx={{ fontWeight: 600 }}>
                      {t(`finding.${finding.code}`)}
                    </Typography>
                    <Typography variant="body2" lang={language}>
                      {findingMessage(finding, language)}
                    </Typography>
                    <Typography variant="caption" color="text.secondary">
                      {t('overview.findingMeta', {
                        time: formatDateTime(finding.observed_at, language),
                        metric: finding.metric,
                      })}
                    </Typography>
                  </Box>
                </ListItem>
              );
            })}
          </List>
        )}
      </Panel>
    </Stack>
  );
}
