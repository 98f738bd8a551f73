/**
 * Logs: every process's lines (GET /api/ops/logs) filtered by time, level, service, request id and text, newest
 * first; a request id in a row filters by it, which shows that request in every process it went through (the API
 * and the shard stages). Below, the patterns Drain finds in the recent lines (GET /api/ops/logs/patterns), new and
 * bursting ones first, with an error burst's alerts and request ids (a request id there filters the lines too).
 *
 * Both routes are for operators: a viewer's key gets a note instead. A query the API cannot read answers 400
 * `invalid_log_query`; its message is shown and the field it names is marked.
 */
import {
  Alert,
  Box,
  Button,
  Chip,
  Link,
  MenuItem,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from '@mui/material';
import { useState, type FormEvent } from 'react';
import { api } from '../api/endpoints';
import type { LogEntry, LogPattern } from '../api/types';
import { formatDateTime, formatTime } from '../lib/format';
import { byRequest, invalidField, LEVELS, logQuery, NO_FILTERS, patternFlags, severityColor, SINCE_CHOICES, type LogFilters } from '../lib/logs';
import { useApi } from '../lib/useApi';
import { useCanOperate } from '../state/admin';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { EmptyState } from '../ui/EmptyState';
import { LoadingBlock } from '../ui/Loading';
import { Panel } from '../ui/Panel';

export function Logs() {
  const { t } = useSettings();
  const canOperate = useCanOperate();
  const [draft, setDraft] = useState<LogFilters>(NO_FILTERS);
  const [applied, setApplied] = useState<LogFilters>(NO_FILTERS);
  const lines = useApi((signal) => api.logs(logQuery(applied), { signal }), [applied], { enabled: canOperate === true });
  const patterns = useApi((signal) => api.logPatterns({ signal }), [], { enabled: canOperate === true });
  const invalid = invalidField(lines.error);

  function apply(filters: LogFilters) {
    setDraft(filters);
    setApplied(filters);
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    if (JSON.stringify(draft) === JSON.stringify(applied)) lines.reload();
    else setApplied(draft);
  }

  if (canOperate === false) {
    return (
      <Alert severity="info" data-testid="logs-viewer-note">
        {t('logs.viewerNote')}
      </Alert>
    );
  }
  const field = (name: keyof LogFilters) => ({
    value: draft[name],
    onChange: (event: { target: { value: string } }) => setDraft({ ...draft, [name]: event.target.value }),
    error: invalid === name,
    size: 'small' as const,
  });

  return (
    <Stack spacing={2}>
      <Panel id="logs-search" title={t('logs.search')}>
        <Box component="form" onSubmit={submit} data-testid="logs-form" sx={{ display: 'flex', flexWrap: 'wrap', gap: 1.5, mb: 2 }}>
          <TextField select label={t('logs.since')} {...field('since')} sx={{ minWidth: 110 }} slotProps={{ htmlInput: { 'data-testid': 'logs-since' } }}>
            {SINCE_CHOICES.map((choice) => (
              <MenuItem key={choice} value={choice}>
                {t('logs.sinceChoice', { range: choice })}
              </MenuItem>
            ))}
          </TextField>
          <TextField select label={t('logs.level')} {...field('level')} sx={{ minWidth: 130 }}>
            <MenuItem value="">{t('logs.anyLevel')}</MenuItem>
            {LEVELS.map((level) => (
              <MenuItem key={level} value={level}>
                {level}
              </MenuItem>
            ))}
          </TextField>
          <TextField label={t('logs.service')} placeholder={t('logs.serviceHint')} {...field('service')} slotProps={{ htmlInput: { 'data-testid': 'logs-service' } }} />
          <TextField label={t('logs.requestId')} {...field('requestId')} slotProps={{ htmlInput: { 'data-testid': 'logs-request-id' } }} />
          <TextField label={t('logs.text')} placeholder={t('logs.textHint')} {...field('text')} sx={{ flexGrow: 1, minWidth: 200 }} slotProps={{ htmlInput: { 'data-testid': 'logs-text' } }} />
          <Stack direction="row" spacing={1} sx={{ alignItems: 'center' }}>
            <Button type="submit" variant="contained" data-testid="logs-submit">
              {t('logs.submit')}
            </Button>
            <Button onClick={() => apply(NO_FILTERS)} data-testid="logs-clear">
              {t('logs.clear')}
            </Button>
          </Stack>
        </Box>
        {lines.error && <ApiErrorAlert error={lines.error} onRetry={lines.reload} />}
        {lines.loading && !lines.data ? (
          <LoadingBlock height={200} />
        ) : !lines.data || lines.error ? null : lines.data.entries.length === 0 ? (
          <EmptyState title={t('logs.none')} hint={t('logs.noneHint')} />
        ) : (
          <LogLines entries={lines.data.entries} onRequest={(id) => apply(byRequest(applied, id))} />
        )}
      </Panel>

      <Panel id="logs-patterns" title={t('logs.patterns')}>
        {patterns.error ? (
          <ApiErrorAlert error={patterns.error} onRetry={patterns.reload} />
        ) : patterns.loading ? (
          <LoadingBlock height={160} />
        ) : (patterns.data?.patterns.length ?? 0) === 0 ? (
          <EmptyState title={t('logs.noPatterns')} />
        ) : (
          <Patterns patterns={patterns.data!.patterns} onRequest={(id) => apply(byRequest(applied, id))} />
        )}
      </Panel>
    </Stack>
  );
}

function RequestLink({ id, onRequest }: { id: string; onRequest: (id: string) => void }) {
  const { t } = useSettings();
  return (
    <Link
      component="button"
      type="button"
      onClick={() => onRequest(id)}
      sx={{ fontFamily: 'monospace', verticalAlign: 'baseline' }}
      aria-label={t('logs.byRequest', { id })}
      data-testid="logs-request-link"
    >
      {id}
    </Link>
  );
}

function LogLines({ entries, onRequest }: { entries: readonly LogEntry[]; onRequest: (id: string) => void }) {
  const { t, language } = useSettings();
  return (
    <TableContainer sx={{ overflowX: 'auto' }} tabIndex={0} role="region" aria-label={t('logs.lines')}>
      <Table size="small" aria-label={t('logs.lines')} data-testid="logs-lines">
        <TableHead>
          <TableRow>
            <TableCell>{t('logs.col.time')}</TableCell>
            <TableCell>{t('logs.col.level')}</TableCell>
            <TableCell>{t('logs.col.service')}</TableCell>
            <TableCell>{t('logs.col.request')}</TableCell>
            <TableCell>{t('logs.col.message')}</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {entries.map((entry, index) => (
            <TableRow key={`${entry.time}-${index}`} data-service={entry.service} data-testid="logs-line">
              <TableCell sx={{ whiteSpace: 'nowrap' }} title={formatDateTime(entry.time, language)}>
                {formatTime(entry.time, language)}
              </TableCell>
              <TableCell>
                <Chip size="small" variant="outlined" label={entry.severity} color={severityColor(entry.severity)} />
              </TableCell>
              <TableCell sx={{ fontFamily: 'monospace', whiteSpace: 'nowrap' }}>
                {entry.service}
                {entry.pid !== null && <Typography component="span" variant="caption" color="text.secondary">{` · ${entry.pid}`}</Typography>}
              </TableCell>
              <TableCell>{entry.request_id ? <RequestLink id={entry.request_id} onRequest={onRequest} /> : '—'}</TableCell>
              <TableCell sx={{ fontFamily: 'monospace', minWidth: 240, wordBreak: 'break-word' }}>
                {entry.message}
                {entry.stack_trace && (
                  <Box component="pre" sx={{ m: 0, mt: 0.5, fontSize: 12, whiteSpace: 'pre-wrap' }}>
                    {entry.stack_trace}
                  </Box>
                )}
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </TableContainer>
  );
}

function Patterns({ patterns, onRequest }: { patterns: readonly LogPattern[]; onRequest: (id: string) => void }) {
  const { t } = useSettings();
  return (
    <Stack spacing={1} data-testid="logs-patterns-list">
      {patterns.map((pattern) => (
        <Box key={pattern.template} data-testid="logs-pattern" sx={{ borderBottom: 1, borderColor: 'divider', pb: 1 }}>
          <Stack direction="row" spacing={1} sx={{ alignItems: 'center', flexWrap: 'wrap', rowGap: 0.5 }}>
            <Chip size="small" variant="outlined" label={pattern.severity} color={severityColor(pattern.severity)} />
            {patternFlags(pattern).map((flag) => (
              <Chip key={flag} size="small" color={flag === 'bursting' ? 'error' : 'warning'} label={t(`logs.flag.${flag}`)} data-testid={`logs-flag-${flag}`} />
            ))}
            <Typography variant="body2" color="text.secondary">
              {t('logs.patternCounts', { recent: pattern.recent, baseline: pattern.baseline, services: pattern.services.join(', ') })}
            </Typography>
          </Stack>
          <Typography sx={{ fontFamily: 'monospace', wordBreak: 'break-word', mt: 0.5 }}>{pattern.template}</Typography>
          {pattern.alerts.length > 0 && (
            <Typography variant="body2" color="error.main" data-testid="logs-pattern-alerts">
              {t('logs.patternAlerts', { alerts: pattern.alerts.map((alert) => alert.alertname).join(', ') })}
            </Typography>
          )}
          {pattern.request_ids.length > 0 && (pattern.new || pattern.bursting) && (
            <Typography variant="body2" component="div">
              {t('logs.patternRequests')}{' '}
              {pattern.request_ids.slice(0, 5).map((id) => (
                <Box component="span" key={id} sx={{ mr: 1 }}>
                  <RequestLink id={id} onRequest={onRequest} />
                </Box>
              ))}
            </Typography>
          )}
        </Box>
      ))}
    </Stack>
  );
}
