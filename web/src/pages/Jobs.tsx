/**
 * Jobs: the inference queue by priority class, each key's usage against its quota (GET /api/quotas), the key's
 * jobs filtered by state (GET /api/jobs) with a job's detail, cancel (queued / running) and retry (failed / dead:
 * the API has no retry route, so the same payload is submitted again as a new job), and a batch form for operators.
 *
 * Jobs are not on the live WebSocket, so the page polls every POLL_S seconds while the tab is visible and stops
 * while it is hidden (refreshing at once when it is shown again). State changes are announced (aria-live).
 */
import { Alert, Box, Button, Stack, Table, TableBody, TableCell, TableContainer, TableHead, TableRow } from '@mui/material';
import { useEffect, useRef, useState } from 'react';
import type { ApiError } from '../api/client';
import { api } from '../api/endpoints';
import type { Job, JobState } from '../api/types';
import { formatDateTime } from '../lib/format';
import { canCancel, canRetry, JOB_STATES, retryRequest, shortId, stateChanges } from '../lib/jobs';
import { asApiError, useApi } from '../lib/useApi';
import { useVisible } from '../lib/useVisible';
import { useCanOperate } from '../state/admin';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { JobStateChip } from '../ui/chips';
import { EmptyState } from '../ui/EmptyState';
import { LabeledSelect } from '../ui/LabeledSelect';
import { LoadingBlock } from '../ui/Loading';
import { Panel } from '../ui/Panel';
import { LiveAnnouncement } from '../ui/VisuallyHidden';
import { BatchForm, JobDialog, QueueTable, UsageList } from './JobPanels';

export const POLL_S = 3;
const LIST_LIMIT = 100;
type Filter = JobState | 'all';
const FILTERS: readonly Filter[] = ['all', ...JOB_STATES];

/** Refresh `reloads` at once when the tab becomes visible again (not on mount). */
function useReloadOnShow(visible: boolean, reloads: (() => void)[]) {
  const was = useRef(visible);
  const latest = useRef(reloads);
  latest.current = reloads;
  useEffect(() => {
    if (visible && !was.current) latest.current.forEach((reload) => reload());
    was.current = visible;
  }, [visible]);
}

export function Jobs() {
  const { t, language } = useSettings();
  const visible = useVisible();
  const canOperate = useCanOperate();
  const refreshS = visible ? POLL_S : 0;
  const [filter, setFilter] = useState<Filter>('all');
  const jobs = useApi((signal) => api.jobs(filter === 'all' ? null : filter, LIST_LIMIT, { signal }), [filter], { refreshS });
  const running = useApi((signal) => api.jobs('running', LIST_LIMIT, { signal }), [], { refreshS });
  const quotas = useApi((signal) => api.quotas({ signal }), [], { refreshS });
  useReloadOnShow(visible, [jobs.reload, running.reload, quotas.reload]);

  const [selected, setSelected] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [announcement, setAnnouncement] = useState('');

  // Announce jobs whose state changed between two polls of the same list.
  const previous = useRef<{ filter: Filter; jobs: Job[] } | null>(null);
  useEffect(() => {
    const list = jobs.data?.jobs;
    if (!list) return;
    const before = previous.current?.filter === filter ? previous.current.jobs : undefined;
    const changed = stateChanges(before, list);
    previous.current = { filter, jobs: list };
    if (changed.length > 0) {
      setAnnouncement(changed.map((job) => t('jobs.changed', { id: shortId(job.id), state: t(`jobState.${job.state}`) })).join(' '));
    }
  }, [jobs.data, filter, t]);

  const list = jobs.data?.jobs ?? [];
  const detail = list.find((job) => job.id === selected) ?? null;

  const reloadAll = () => {
    jobs.reload();
    running.reload();
    quotas.reload();
  };

  async function cancel(job: Job) {
    setBusy(true);
    setActionError(null);
    try {
      const updated = await api.cancelJob(job.id);
      jobs.setData((current) => current && { jobs: current.jobs.map((item) => (item.id === updated.id ? updated : item)) });
      setNotice(t('jobs.cancelRequested', { id: shortId(job.id), state: t(`jobState.${updated.state}`) }));
      reloadAll();
    } catch (failure) {
      setActionError(asApiError(failure));
    } finally {
      setBusy(false);
    }
  }

  async function retry(job: Job) {
    setBusy(true);
    setActionError(null);
    try {
      const accepted = await api.submitJobs(retryRequest(job));
      setNotice(t('jobs.resubmitted', { id: shortId(job.id), newId: shortId(accepted.jobs[0] ?? '') }));
      setSelected(null);
      reloadAll();
    } catch (failure) {
      setActionError(asApiError(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Stack spacing={2}>
      <LiveAnnouncement testId="jobs-announcement">{announcement}</LiveAnnouncement>
      {canOperate === false && (
        <Alert severity="info" data-testid="viewer-note">
          {t('jobs.viewerNote')}
        </Alert>
      )}
      <Box sx={{ display: 'grid', gap: 2, gridTemplateColumns: { xs: 'minmax(0, 1fr)', md: 'repeat(2, minmax(0, 1fr))' } }}>
        <Panel id="jobs-queue" title={t('jobs.queue')}>
          {quotas.loading ? <LoadingBlock height={160} /> : quotas.error ? <ApiErrorAlert error={quotas.error} onRetry={quotas.reload} /> : <QueueTable report={quotas.data} running={running.data?.jobs ?? []} />}
        </Panel>
        <Panel id="jobs-usage" title={t('jobs.usage')}>
          {quotas.loading ? (
            <LoadingBlock height={160} />
          ) : quotas.error ? (
            <ApiErrorAlert error={quotas.error} onRetry={quotas.reload} />
          ) : (
            <UsageList keys={quotas.data?.keys ?? []} />
          )}
        </Panel>
      </Box>

      {canOperate && (
        <Panel id="jobs-submit" title={t('jobs.form.title')}>
          <BatchForm
            onSubmitted={() => {
              setFilter('all');
              reloadAll();
            }}
          />
        </Panel>
      )}

      <Panel
        id="jobs-list"
        title={t('jobs.list')}
        action={
          <LabeledSelect
            id="job-filter"
            label={t('jobs.filter')}
            value={filter}
            options={FILTERS}
            optionLabel={(value) => (value === 'all' ? t('jobs.filter.all') : t(`jobState.${value}`))}
            onChange={setFilter}
            minWidth={150}
            testId="job-filter"
          />
        }
      >
        {notice && (
          <Alert severity="info" sx={{ mb: 2 }} onClose={() => setNotice(null)} data-testid="jobs-notice">
            {notice}
          </Alert>
        )}
        {actionError && (
          <Box sx={{ mb: 2 }}>
            <ApiErrorAlert error={actionError} />
          </Box>
        )}
        {jobs.error && jobs.data && (
          <Box sx={{ mb: 2 }}>
            <ApiErrorAlert error={jobs.error} onRetry={jobs.reload} />
          </Box>
        )}
        {jobs.loading ? (
          <LoadingBlock height={200} />
        ) : jobs.error && !jobs.data ? (
          <ApiErrorAlert error={jobs.error} onRetry={jobs.reload} />
        ) : list.length === 0 ? (
          <EmptyState title={filter === 'all' ? t('jobs.none') : t('jobs.noneInState', { state: t(`jobState.${filter}`) })} hint={t('jobs.noneHint')} />
        ) : (
          <TableContainer sx={{ overflowX: 'auto' }} tabIndex={0} role="region" aria-label={t('jobs.list')}>
            <Table size="small" sx={{ '& th, & td': { whiteSpace: 'nowrap' } }} aria-label={t('jobs.list')} data-testid="jobs">
              <TableHead>
                <TableRow>
                  <TableCell>{t('tasks.col.id')}</TableCell>
                  <TableCell>{t('jobs.col.state')}</TableCell>
                  <TableCell>{t('jobs.col.priority')}</TableCell>
                  <TableCell>{t('jobs.col.created')}</TableCell>
                  <TableCell>{t('jobs.field.attempts')}</TableCell>
                  <TableCell>{t('jobs.col.actions')}</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {list.map((job) => (
                  <TableRow key={job.id} data-job={job.id}>
                    <TableCell sx={{ fontFamily: 'monospace' }}>
                      <Button size="small" onClick={() => setSelected(job.id)} aria-label={t('jobs.open', { id: shortId(job.id) })} sx={{ fontFamily: 'monospace', textTransform: 'none' }}>
                        {shortId(job.id)}
                      </Button>
                    </TableCell>
                    <TableCell>
                      <JobStateChip state={job.state} />
                    </TableCell>
                    <TableCell>{t(`priority.${job.priority}`)}</TableCell>
                    <TableCell>{formatDateTime(job.created_at * 1000, language)}</TableCell>
                    <TableCell>{t('jobs.attempts', { attempts: job.attempts, max: job.max_attempts })}</TableCell>
                    <TableCell>
                      {canOperate && canCancel(job) && (
                        <Button size="small" color="warning" disabled={busy} onClick={() => void cancel(job)} aria-label={t('jobs.cancelJob', { id: job.id })}>
                          {t('jobs.cancel')}
                        </Button>
                      )}
                      {canOperate && canRetry(job) && (
                        <Button size="small" disabled={busy} onClick={() => void retry(job)} aria-label={t('jobs.retryJob', { id: job.id })}>
                          {t('jobs.retry')}
                        </Button>
                      )}
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </TableContainer>
        )}
        {canOperate && list.some(canRetry) && (
          <Box sx={{ mt: 1, color: 'text.secondary', fontSize: 13 }}>{t('jobs.retryNote')}</Box>
        )}
      </Panel>
      <JobDialog
        job={detail}
        canOperate={canOperate === true}
        busy={busy}
        onCancel={(job) => void cancel(job)}
        onRetry={(job) => void retry(job)}
        onClose={() => setSelected(null)}
      />
    </Stack>
  );
}
