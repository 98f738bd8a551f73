/**
 * An AI narrative or answer: its text, how confident the model was, whether every number in it was checked against
 * the data (grounded) or the exact template text replaced the model's (fallback), and the sources it used, each a
 * link to where the Overview shows that evidence.
 */
import { Box, Card, CardContent, Chip, LinearProgress, Stack, Typography } from '@mui/material';
import { useId, type MouseEvent, type ReactNode } from 'react';
import { formatDateTime, formatInteger, formatPercent } from '../lib/format';
import type { InsightView } from '../lib/history';
import { reasonText } from '../lib/reasons';
import { hrefFor } from '../lib/route';
import { FINDING_CODES, isFindingCode, sourceTarget } from '../lib/sources';
import { useSettings } from '../state/settings';
import { highlight } from './highlight';

const ALL_FINDINGS: ReadonlySet<string> = new Set(FINDING_CODES);

export function InsightCard({
  insight,
  presentFindings,
  onOverview = false,
  headingLevel = 'h3',
  status,
  children,
}: {
  insight: InsightView;
  presentFindings?: ReadonlySet<string>; // findings listed beside the card; unknown (other pages): assume all are
  onOverview?: boolean; // sources highlight in place instead of navigating to the Overview
  headingLevel?: 'h2' | 'h3';
  status?: ReactNode; // what this text is (e.g. the Ask page's phrased / composed line); replaces the fallback reason
  children?: ReactNode; // shown under the text (e.g. the model's phrasing as it arrives)
}) {
  const { t, language } = useSettings();
  const confidence = Math.round(insight.confidence * 100);
  const confidenceId = useId();
  return (
    <Card component="article" data-testid="insight-card" sx={{ height: '100%' }}>
      <CardContent>
        <Stack direction="row" spacing={1} useFlexGap sx={{ flexWrap: 'wrap', alignItems: 'center', mb: 1 }}>
          <Typography component={headingLevel} variant="subtitle1" sx={{ fontWeight: 600, mr: 'auto' }}>
            {t(`insight.kind.${insight.kind}`)}
          </Typography>
          {/* A template text is exact by construction; a model text is checked number by number (grounded). */}
          {insight.grounded ? (
            <Chip size="small" color="success" label={t('insight.grounded')} data-testid="badge-grounded" />
          ) : insight.fallback_used ? (
            <Chip size="small" color="info" label={t('insight.fallback')} data-testid="badge-fallback" />
          ) : (
            <Chip size="small" color="warning" label={t('insight.notGrounded')} data-testid="badge-not-grounded" />
          )}
        </Stack>
        {insight.question && (
          <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }} lang={insight.language}>
            {t('insight.question', { question: insight.question })}
          </Typography>
        )}
        <Typography variant="body1" sx={{ whiteSpace: 'pre-wrap', mb: 2 }} lang={insight.language}>
          {insight.text}
        </Typography>
        {children}
        <Box sx={{ mb: 2 }}>
          <Typography variant="body2" id={confidenceId}>
            {t('insight.confidence', { value: formatPercent(confidence, language, { digits: 0 }) })}
          </Typography>
          <LinearProgress
            variant="determinate"
            value={confidence}
            aria-labelledby={confidenceId}
            sx={{ height: 6, borderRadius: 3, mt: 0.5 }}
          />
        </Box>
        <Typography variant="body2" component="h4" sx={{ fontWeight: 600, mb: 0.5 }}>
          {t('insight.sources')}
        </Typography>
        {insight.sources.length === 0 ? (
          <Typography variant="body2" color="text.secondary">
            {t('insight.noSources')}
          </Typography>
        ) : (
          <Stack direction="row" spacing={0.75} useFlexGap sx={{ flexWrap: 'wrap' }} component="ul" aria-label={t('insight.sources')} style={{ padding: 0, margin: 0, listStyle: 'none' }}>
            {insight.sources.map((source) => {
              const target = sourceTarget(source, presentFindings ?? ALL_FINDINGS);
              const label = isFindingCode(source) ? t(`finding.${source}`) : source;
              return (
                <li key={source}>
                  {target ? (
                    <Chip
                      size="small"
                      variant="outlined"
                      clickable
                      component="a"
                      label={label}
                      href={hrefFor('overview', target)}
                      data-testid="insight-source"
                      onClick={(event: MouseEvent) => {
                        if (!onOverview) return;
                        event.preventDefault();
                        highlight(target);
                      }}
                    />
                  ) : (
                    <Chip size="small" variant="outlined" label={label} data-testid="insight-source" />
                  )}
                </li>
              );
            })}
          </Stack>
        )}
        <Typography variant="caption" color="text.secondary" component="p" sx={{ mt: 2 }}>
          {t('insight.meta', {
            model: insight.model,
            latency: formatInteger(insight.latency_ms, language),
            time: insight.report_observed_at ? formatDateTime(insight.report_observed_at, language) : '—',
          })}
        </Typography>
        {status ??
          (insight.fallback_used && insight.fallback_reason && (
            <Typography
              variant="caption"
              color="text.secondary"
              component="p"
              data-testid="fallback-reason"
              title={insight.fallback_reason}
            >
              {t('insight.fallbackReason', { reason: reasonText(t, insight.fallback_reason) })}
            </Typography>
          ))}
      </CardContent>
    </Card>
  );
}
