/**
 * The Jobs page's parts: the queue by priority class, each key's usage against its quota, the operator's batch form
 * and a job's detail dialog. The page (Jobs.tsx) owns the data and passes it in.
 */
import {
  Alert,
  Box,
  Button,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  LinearProgress,
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
import { useState, type FormEvent, type ReactNode } from 'react';
import type { ApiError } from '../api/client';
import { api } from '../api/endpoints';
import type { Job, JobsAccepted, KeyUsage, Priority, QuotaReport } from '../api/types';
import { formatDateTime, formatDuration, formatInteger } from '../lib/format';
import {
  batchRequest,
  canCancel,
  canRetry,
  MAX_JOB_TOKENS,
  MAX_PROMPTS,
  parsePrompts,
  percentUsed,
  PRIORITIES,
  queueByClass,
  runSeconds,
  usageMeters,
  type Meter,
} from '../lib/jobs';
import { asApiError } from '../lib/useApi';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { JobStateChip } from '../ui/chips';
import { LabeledSelect } from '../ui/LabeledSelect';

export function QueueTable({ report, running }: { report: QuotaReport | undefined; running: readonly Job[] }) {
  const { t, language } = useSettings();
  const rows = queueByClass(report?.queue, running);
  const wait = report?.forecast['predicted_wait_s'];
  return (
    <Box>
      <TableContainer sx={{ overflowX: 'auto' }}>
      <Table size="small" aria-label={t('jobs.queue')} data-testid="queue-by-class">
        <TableHead>
          <TableRow>
            <TableCell>{t('jobs.col.priority')}</TableCell>
            <TableCell align="right">{t('jobs.col.queued')}</TableCell>
            <TableCell align="right">{t('jobs.col.running')}</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {rows.map((row) => (
            <TableRow key={row.priority} data-priority={row.priority}>
              <TableCell>{t(`priority.${row.priority}`)}</TableCell>
              <TableCell align="right" data-testid="class-queued">
                {formatInteger(row.queued, language)}
              </TableCell>
              <TableCell align="right" data-testid="class-running">
                {formatInteger(row.running, language)}
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      </TableContainer>
      <Typography variant="body2" color="text.secondary" sx={{ mt: 1 }} data-testid="queue-totals">
        {t('jobs.queueTotals', {
          running: formatInteger(report?.queue['running'] ?? 0, language),
          retrying: formatInteger(report?.queue['retrying'] ?? 0, language),
        })}{' '}
        {wait == null ? t('jobs.waitUnknown') : t('jobs.waitPredicted', { duration: formatDuration(wait * 1000, language) })}
      </Typography>
      <Typography variant="caption" color="text.secondary">
        {t('jobs.runningNote')}
      </Typography>
    </Box>
  );
}

function MeterRow({ label, meter, testId }: { label: string; meter: Meter; testId: string }) {
  const { t, language } = useSettings();
  const limit = formatInteger(meter.limit, language);
  const text =
    meter.used === null
      ? t('jobs.usage.limitOnly', { limit })
      : t('jobs.usage.usedOf', { used: formatInteger(meter.used, language), limit });
  const percent = percentUsed(meter);
  return (
    <Box data-testid={testId}>
      <Box sx={{ display: 'flex', justifyContent: 'space-between', gap: 1, flexWrap: 'wrap' }}>
        <Typography variant="body2">{label}</Typography>
        <Typography variant="body2" color="text.secondary">
          {text}
        </Typography>
      </Box>
      {meter.used !== null && (
        <LinearProgress
          variant="determinate"
          value={percent}
          color={percent >= 90 ? 'error' : percent >= 70 ? 'warning' : 'primary'}
          aria-label={label}
          aria-valuetext={text}
        />
      )}
    </Box>
  );
}

export function UsageList({ keys }: { keys: readonly KeyUsage[] }) {
  const { t } = useSettings();
  return (
    <Stack spacing={2} data-testid="usage">
      {keys.map((usage) => {
        const meters = usageMeters(usage);
        return (
          <Box key={usage.key_id} component="section" aria-label={t('jobs.usage.key', { key: usage.key_id })} data-key={usage.key_id}>
            <Typography variant="subtitle2" component="h3" sx={{ mb: 0.5 }}>
              {t('jobs.usage.key', { key: usage.key_id })}
            </Typography>
            <Stack spacing={1}>
              <MeterRow label={t('jobs.usage.tokensPerMinute')} meter={meters.tokensPerMinute} testId="usage-tpm" />
              <MeterRow label={t('jobs.usage.running')} meter={meters.running} testId="usage-running" />
              <MeterRow label={t('jobs.usage.daily')} meter={meters.daily} testId="usage-daily" />
              <MeterRow label={t('jobs.usage.queued')} meter={meters.queued} testId="usage-queued" />
            </Stack>
          </Box>
        );
      })}
    </Stack>
  );
}

/** The operator's form: prompts one a line, a priority class and max tokens; POST /api/jobs as one batch. */
export function BatchForm({ onSubmitted }: { onSubmitted: (accepted: JobsAccepted) => void }) {
  const { t, language } = useSettings();
  const [text, setText] = useState('');
  const [priority, setPriority] = useState<Priority>('batch');
  const [maxTokens, setMaxTokens] = useState('64');
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [accepted, setAccepted] = useState<JobsAccepted | null>(null);
  const prompts = parsePrompts(text);
  const tokens = Number(maxTokens);
  const tokensValid = Number.isInteger(tokens) && tokens >= 1 && tokens <= MAX_JOB_TOKENS;
  const promptsValid = prompts.length >= 1 && prompts.length <= MAX_PROMPTS;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!tokensValid || !promptsValid) return;
    setSubmitting(true);
    setError(null);
    setAccepted(null);
    try {
      const answer = await api.submitJobs(batchRequest(prompts, priority, tokens));
      setAccepted(answer);
      setText('');
      onSubmitted(answer);
    } catch (failure) {
      setError(asApiError(failure));
    } finally {
      setSubmitting(false);
    }
  }

  return (
    <Box component="form" onSubmit={submit} noValidate data-testid="batch-form">
      <Stack spacing={2}>
        <TextField
          label={t('jobs.form.prompts')}
          helperText={t('jobs.form.promptsHelp', { count: prompts.length, max: MAX_PROMPTS })}
          multiline
          minRows={3}
          value={text}
          onChange={(event) => setText(event.target.value)}
          required
          slotProps={{ htmlInput: { 'data-testid': 'batch-prompts' } }}
        />
        <Box sx={{ display: 'flex', gap: 2, flexWrap: 'wrap', alignItems: 'flex-start' }}>
          <LabeledSelect
            id="job-priority"
            label={t('jobs.form.priority')}
            value={priority}
            options={PRIORITIES}
            optionLabel={(value) => t(`priority.${value}`)}
            onChange={setPriority}
            minWidth={180}
            testId="batch-priority"
          />
          <TextField
            size="small"
            type="number"
            label={t('jobs.form.maxTokens')}
            value={maxTokens}
            onChange={(event) => setMaxTokens(event.target.value)}
            error={!tokensValid}
            helperText={tokensValid ? ' ' : t('jobs.form.maxTokensInvalid', { max: MAX_JOB_TOKENS })}
            slotProps={{ htmlInput: { min: 1, max: MAX_JOB_TOKENS } }}
            sx={{ width: 180 }}
          />
          <Button type="submit" variant="contained" disabled={submitting || !tokensValid || !promptsValid}>
            {submitting ? t('tasks.submitting') : t('jobs.form.submit', { count: prompts.length })}
          </Button>
        </Box>
        {accepted && (
          <Alert severity="success" data-testid="batch-accepted">
            {t('jobs.form.accepted', { count: accepted.jobs.length })}
          </Alert>
        )}
        {error && (
          <Box>
            {error.retryAfterS !== null && (
              <Alert severity="warning" sx={{ mb: 1 }} data-testid="retry-after">
                {t('jobs.form.retryAfter', { duration: formatDuration(error.retryAfterS * 1000, language) })}
              </Alert>
            )}
            <ApiErrorAlert error={error} />
          </Box>
        )}
      </Stack>
    </Box>
  );
}

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <Box component="dt" sx={{ color: 'text.secondary', fontSize: 14 }}>
        {label}
      </Box>
      <Box component="dd" sx={{ m: 0, mb: 1, wordBreak: 'break-word' }}>
        {children}
      </Box>
    </>
  );
}

const at = (seconds: number | null | undefined, language: 'zh-TW' | 'en') =>
  seconds == null ? '—' : formatDateTime(seconds * 1000, language);

export function JobDialog({
  job,
  canOperate,
  busy,
  onCancel,
  onRetry,
  onClose,
}: {
  job: Job | null;
  canOperate: boolean;
  busy: boolean;
  onCancel: (job: Job) => void;
  onRetry: (job: Job) => void;
  onClose: () => void;
}) {
  const { t, language } = useSettings();
  const ran = job ? runSeconds(job, Date.now() / 1000) : null;
  const text = job?.result && typeof job.result['text'] === 'string' ? (job.result['text'] as string) : null;
  return (
    <Dialog open={job !== null} onClose={onClose} fullWidth maxWidth="md" aria-labelledby="job-dialog-title">
      <DialogTitle id="job-dialog-title">{t('jobs.detail', { id: job?.id ?? '' })}</DialogTitle>
      <DialogContent>
        {job && (
          <Box component="dl" sx={{ m: 0 }} data-testid="job-detail">
            <Field label={t('jobs.col.state')}>
              <JobStateChip state={job.state} />
            </Field>
            <Field label={t('jobs.col.priority')}>{t(`priority.${job.priority}`)}</Field>
            <Field label={t('jobs.field.attempts')}>{t('jobs.attempts', { attempts: job.attempts, max: job.max_attempts })}</Field>
            <Field label={t('jobs.field.timings')}>
              {t('jobs.timings', {
                created: at(job.created_at, language),
                started: at(job.started_at, language),
                finished: at(job.finished_at, language),
              })}
              {ran !== null && ` · ${t('jobs.ranFor', { duration: formatDuration(ran * 1000, language) })}`}
            </Field>
            {job.worker && <Field label={t('jobs.field.worker')}>{job.worker}</Field>}
            <Field label={t('jobs.field.payload')}>
              <Box component="pre" sx={{ m: 0, whiteSpace: 'pre-wrap', fontSize: 13 }} data-testid="job-payload">
                {JSON.stringify(job.payload, null, 2)}
              </Box>
            </Field>
            {job.error && (
              <Field label={t('jobs.field.error')}>
                <Alert severity="error" data-testid="job-error">
                  {t('tasks.failedWith', { code: job.error.code, message: job.error.message })}
                </Alert>
              </Field>
            )}
            {job.result && (
              <Field label={t('jobs.field.result')}>
                {text !== null && (
                  <Box sx={{ mb: 1 }} data-testid="job-result-text">
                    {text}
                  </Box>
                )}
                <Box component="pre" sx={{ m: 0, whiteSpace: 'pre-wrap', fontSize: 13 }}>
                  {JSON.stringify(job.result, null, 2)}
                </Box>
              </Field>
            )}
          </Box>
        )}
      </DialogContent>
      <DialogActions>
        {job && canOperate && canCancel(job) && (
          <Button color="warning" disabled={busy} onClick={() => onCancel(job)}>
            {t('jobs.cancel')}
          </Button>
        )}
        {job && canOperate && canRetry(job) && (
          <Button disabled={busy} onClick={() => onRetry(job)}>
            {t('jobs.retry')}
          </Button>
        )}
        <Button onClick={onClose}>{t('action.close')}</Button>
      </DialogActions>
    </Dialog>
  );
}
