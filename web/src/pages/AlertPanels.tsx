/**
 * The Alerts page's parts: the active alerts (what, where, since when, the runbook, the analysis findings of the
 * same time, deliveries that failed), the history of state changes, the silences and the operator's silence form.
 * The page (Alerts.tsx) owns the data and passes it in.
 */
import {
  Alert,
  Box,
  Button,
  Chip,
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
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { ApiError } from '../api/client';
import { api } from '../api/endpoints';
import type { AlertRecord, Silence } from '../api/types';
import {
  DURATION_UNITS,
  failedDeliveries,
  MAX_COMMENT,
  shownLabels,
  silenceForm,
  SILENCE_MAX_S,
  type DurationUnit,
  type SilenceFormError,
} from '../lib/alerts';
import { formatDateTime, formatDuration } from '../lib/format';
import { asApiError } from '../lib/useApi';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { AlertSeverityChip, AlertStatusChip, SilenceStateChip } from '../ui/chips';
import { LabeledSelect } from '../ui/LabeledSelect';

export const ALERTNAME_INPUT_ID = 'silence-alertname';

function Labels({ labels }: { labels: Record<string, string> }) {
  const shown = shownLabels(labels);
  if (shown.length === 0) return null;
  return (
    <Box sx={{ display: 'flex', flexWrap: 'wrap', gap: 0.5 }} data-testid="alert-labels">
      {shown.map(([name, value]) => (
        <Chip key={name} size="small" variant="outlined" label={`${name}=${value}`} sx={{ fontFamily: 'monospace', maxWidth: '100%' }} />
      ))}
    </Box>
  );
}

/** One active alert as a card: it reads on a phone, where a wide table would not. */
function ActiveAlert({ alert, now, canOperate, onSilence }: { alert: AlertRecord; now: number; canOperate: boolean; onSilence: (alertname: string) => void }) {
  const { t, language } = useSettings();
  const failed = failedDeliveries(alert);
  const since = new Date(alert.starts_at).getTime();
  return (
    <Box
      component="article"
      aria-labelledby={`alert-${alert.fingerprint}`}
      data-alert={alert.fingerprint}
      sx={{ border: 1, borderColor: alert.severity === 'page' ? 'error.main' : 'divider', borderRadius: 1, p: 1.5 }}
    >
      <Box sx={{ display: 'flex', gap: 1, alignItems: 'center', flexWrap: 'wrap' }}>
        <AlertSeverityChip severity={alert.severity} />
        <Typography id={`alert-${alert.fingerprint}`} component="h3" variant="subtitle2" sx={{ fontFamily: 'monospace', wordBreak: 'break-all' }}>
          {alert.alertname}
        </Typography>
        <Box sx={{ flexGrow: 1 }} />
        {canOperate && (
          <Button size="small" onClick={() => onSilence(alert.alertname)} aria-label={t('alerts.silenceRule', { name: alert.alertname })}>
            {t('alerts.silence')}
          </Button>
        )}
      </Box>
      <Typography variant="body2" sx={{ mt: 0.5 }} data-testid="alert-summary">
        {alert.summary}
      </Typography>
      <Typography variant="body2" color="text.secondary" data-testid="alert-since">
        {t('alerts.since', { at: formatDateTime(alert.starts_at, language), duration: formatDuration(now - since, language) })}
      </Typography>
      <Box sx={{ mt: 0.5 }}>
        <Labels labels={alert.labels} />
      </Box>
      {alert.runbook_url && (
        <Typography variant="body2" sx={{ mt: 0.5, wordBreak: 'break-all' }} data-testid="alert-runbook">
          {t('alerts.runbook')}{' '}
          <Box component="code" sx={{ fontSize: 13 }}>
            {alert.runbook_url}
          </Box>
        </Typography>
      )}
      {(alert.findings ?? []).length > 0 && (
        <Box sx={{ mt: 1 }} data-testid="alert-findings">
          <Typography variant="body2" sx={{ fontWeight: 600 }}>
            {t('alerts.findings')}
          </Typography>
          <Box component="ul" sx={{ m: 0, pl: 2.5 }}>
            {alert.findings!.map((finding) => (
              <Typography component="li" variant="body2" key={`${finding.code}-${finding.observed_at}`}>
                {t('alerts.finding', {
                  code: finding.code,
                  severity: finding.severity,
                  message: finding.message_en,
                  at: formatDateTime(finding.observed_at, language),
                })}
              </Typography>
            ))}
          </Box>
        </Box>
      )}
      {failed.length > 0 && (
        <Alert severity="warning" sx={{ mt: 1 }} data-testid="alert-delivery-failed">
          {failed.map((delivery) => (
            <Box key={delivery.channel}>{t('alerts.deliveryFailed', { channel: delivery.channel, error: delivery.error ?? '—' })}</Box>
          ))}
        </Alert>
      )}
    </Box>
  );
}

export function ActiveAlerts({ alerts, canOperate, onSilence }: { alerts: readonly AlertRecord[]; canOperate: boolean; onSilence: (alertname: string) => void }) {
  const now = Date.now();
  return (
    <Stack spacing={1.5} data-testid="active-alerts">
      {alerts.map((alert) => (
        <ActiveAlert key={alert.fingerprint} alert={alert} now={now} canOperate={canOperate} onSilence={onSilence} />
      ))}
    </Stack>
  );
}

export function AlertHistory({ history }: { history: readonly AlertRecord[] }) {
  const { t, language } = useSettings();
  return (
    <TableContainer sx={{ overflowX: 'auto' }} tabIndex={0} role="region" aria-label={t('alerts.history')}>
      <Table size="small" aria-label={t('alerts.history')} data-testid="alert-history">
        <TableHead>
          <TableRow>
            <TableCell>{t('alerts.col.received')}</TableCell>
            <TableCell>{t('alerts.col.status')}</TableCell>
            <TableCell>{t('alerts.col.severity')}</TableCell>
            <TableCell>{t('alerts.col.name')}</TableCell>
            <TableCell>{t('alerts.col.summary')}</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {history.map((alert) => {
            const failed = failedDeliveries(alert);
            return (
              <TableRow key={`${alert.fingerprint}-${alert.status}-${alert.received_at}`} data-alert={alert.fingerprint}>
                <TableCell sx={{ whiteSpace: 'nowrap' }}>{formatDateTime(alert.received_at, language)}</TableCell>
                <TableCell>
                  <AlertStatusChip status={alert.status} />
                </TableCell>
                <TableCell>
                  <AlertSeverityChip severity={alert.severity} />
                </TableCell>
                <TableCell sx={{ fontFamily: 'monospace' }}>{alert.alertname}</TableCell>
                <TableCell sx={{ minWidth: 200 }}>
                  {alert.summary}
                  {failed.length > 0 && (
                    <Typography variant="body2" color="warning.main" data-testid="alert-delivery-failed">
                      {failed.map((delivery) => t('alerts.deliveryFailed', { channel: delivery.channel, error: delivery.error ?? '—' })).join(' ')}
                    </Typography>
                  )}
                </TableCell>
              </TableRow>
            );
          })}
        </TableBody>
      </Table>
    </TableContainer>
  );
}

export function SilenceTable({
  silences,
  canOperate,
  busy,
  onExpire,
}: {
  silences: readonly Silence[];
  canOperate: boolean;
  busy: boolean;
  onExpire: (silence: Silence) => void;
}) {
  const { t, language } = useSettings();
  return (
    <TableContainer sx={{ overflowX: 'auto' }} tabIndex={0} role="region" aria-label={t('alerts.silences')}>
      <Table size="small" aria-label={t('alerts.silences')} data-testid="silences">
        <TableHead>
          <TableRow>
            <TableCell>{t('alerts.col.state')}</TableCell>
            <TableCell>{t('alerts.col.matchers')}</TableCell>
            <TableCell>{t('alerts.col.period')}</TableCell>
            <TableCell>{t('alerts.col.comment')}</TableCell>
            <TableCell>{t('alerts.col.createdBy')}</TableCell>
            {canOperate && <TableCell>{t('jobs.col.actions')}</TableCell>}
          </TableRow>
        </TableHead>
        <TableBody>
          {silences.map((silence) => (
            <TableRow key={silence.id} data-silence={silence.id}>
              <TableCell>
                <SilenceStateChip state={silence.state} />
              </TableCell>
              <TableCell sx={{ fontFamily: 'monospace', fontSize: 13 }}>
                {Object.entries(silence.matchers)
                  .map(([name, value]) => `${name}=${value}`)
                  .join(', ')}
              </TableCell>
              <TableCell sx={{ minWidth: 170 }}>
                {t('alerts.period', { from: formatDateTime(silence.starts_at, language), to: formatDateTime(silence.ends_at, language) })}
              </TableCell>
              <TableCell sx={{ minWidth: 160 }}>{silence.comment}</TableCell>
              <TableCell sx={{ fontFamily: 'monospace' }}>{silence.created_by}</TableCell>
              {canOperate && (
                <TableCell>
                  {silence.state !== 'expired' && (
                    <Button size="small" color="warning" disabled={busy} onClick={() => onExpire(silence)} aria-label={t('alerts.expireSilence', { id: silence.id })}>
                      {t('alerts.expire')}
                    </Button>
                  )}
                </TableCell>
              )}
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </TableContainer>
  );
}

/**
 * The operator's form: a rule's name, for how long, why, and optionally further labels (`role=shard`); checked as
 * the API checks it before asking. The API refuses a rule Prometheus does not have (422 unknown_rule) naming the
 * rules there are: that message is shown under the name.
 */
export function SilenceForm({ initialName, focus, onCreated }: { initialName: string; focus: boolean; onCreated: (id: string) => void }) {
  const { t, language } = useSettings();
  const [alertname, setAlertname] = useState(initialName);
  const [amount, setAmount] = useState('1');
  const [unit, setUnit] = useState<DurationUnit>('hour');
  const [comment, setComment] = useState('');
  const [matchers, setMatchers] = useState('');
  const [touched, setTouched] = useState(false);
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const nameInput = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (focus) nameInput.current?.focus();
  }, [focus]);

  const checked = silenceForm({ alertname, amount, unit, comment, matchers });
  const invalid = (field: SilenceFormError) => touched && !checked.ok && checked.errors[field] === true;
  const unknownRule = error?.code === 'unknown_rule';

  async function submit(event: FormEvent) {
    event.preventDefault();
    setTouched(true);
    if (!checked.ok) return;
    setSubmitting(true);
    setError(null);
    try {
      const created = await api.createSilence(checked.request);
      setComment('');
      setMatchers('');
      setTouched(false);
      onCreated(created.id);
    } catch (failure) {
      setError(asApiError(failure));
    } finally {
      setSubmitting(false);
    }
  }

  return (
    <Box component="form" onSubmit={submit} noValidate data-testid="silence-form">
      <Stack spacing={2}>
        <Box sx={{ display: 'flex', gap: 2, flexWrap: 'wrap', alignItems: 'flex-start' }}>
          <TextField
            size="small"
            id={ALERTNAME_INPUT_ID}
            inputRef={nameInput}
            label={t('alerts.form.alertname')}
            value={alertname}
            onChange={(event) => {
              setAlertname(event.target.value);
              if (unknownRule) setError(null);
            }}
            required
            error={invalid('alertname') || unknownRule}
            helperText={unknownRule ? t('alerts.form.unknownRule') : invalid('alertname') ? t('alerts.form.alertnameInvalid') : t('alerts.form.alertnameHelp')}
            sx={{ minWidth: 220, flex: '1 1 220px' }}
          />
          <TextField
            size="small"
            type="number"
            label={t('alerts.form.duration')}
            value={amount}
            onChange={(event) => setAmount(event.target.value)}
            required
            error={invalid('duration')}
            helperText={invalid('duration') ? t('alerts.form.durationInvalid', { max: formatDuration(SILENCE_MAX_S * 1000, language) }) : ' '}
            slotProps={{ htmlInput: { min: 1 } }}
            sx={{ width: 160 }}
          />
          <LabeledSelect
            id="silence-unit"
            label={t('alerts.form.unit')}
            value={unit}
            options={DURATION_UNITS}
            optionLabel={(value) => t(`alerts.unit.${value}`)}
            onChange={setUnit}
            minWidth={120}
            testId="silence-unit"
          />
        </Box>
        <TextField
          size="small"
          label={t('alerts.form.comment')}
          value={comment}
          onChange={(event) => setComment(event.target.value)}
          required
          error={invalid('comment')}
          helperText={invalid('comment') ? t('alerts.form.commentInvalid', { max: MAX_COMMENT }) : t('alerts.form.commentHelp')}
        />
        <TextField
          size="small"
          label={t('alerts.form.matchers')}
          value={matchers}
          onChange={(event) => setMatchers(event.target.value)}
          error={invalid('matchers')}
          helperText={invalid('matchers') ? t('alerts.form.matchersInvalid') : t('alerts.form.matchersHelp')}
          slotProps={{ htmlInput: { spellCheck: false } }}
        />
        <Box>
          <Button type="submit" variant="contained" disabled={submitting}>
            {submitting ? t('tasks.submitting') : t('alerts.form.submit')}
          </Button>
        </Box>
        {error && <ApiErrorAlert error={error} />}
      </Stack>
    </Box>
  );
}
