/**
 * Workflows: the deployed workflows (GET /api/workflows) with the chosen one's revisions, a run form for operators
 * (the argument as JSON), its executions with their state and revision, and an execution's steps as a timeline
 * with each step's result or error; a running execution can be cancelled (it stops before its next step).
 *
 * Executions' states are not on the live WebSocket (only what a workflow's qcl.notify step sends is, and such a
 * message refreshes at once), so the page polls while something is running and the tab is visible; state changes
 * are announced (aria-live).
 */
import { Alert, Box, Button, Stack, Table, TableBody, TableCell, TableContainer, TableHead, TableRow, Typography } from '@mui/material';
import { useEffect, useRef, useState } from 'react';
import type { ApiError } from '../api/client';
import { api } from '../api/endpoints';
import type { Execution, ExecutionState } from '../api/types';
import { formatDateTime } from '../lib/format';
import { shortId } from '../lib/jobs';
import { asApiError, useApi } from '../lib/useApi';
import { useVisible } from '../lib/useVisible';
import { isActive } from '../lib/workflows';
import { useCanOperate } from '../state/admin';
import { useLiveTopic } from '../state/live';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { ExecutionStateChip } from '../ui/chips';
import { EmptyState } from '../ui/EmptyState';
import { LoadingBlock } from '../ui/Loading';
import { Panel } from '../ui/Panel';
import { LiveAnnouncement } from '../ui/VisuallyHidden';
import { ExecutionView, RunForm } from './WorkflowPanels';

export const ACTIVE_POLL_S = 1;
export const IDLE_POLL_S = 15;

export function Workflows() {
  const { t, language } = useSettings();
  const visible = useVisible();
  const canOperate = useCanOperate();
  const workflows = useApi((signal) => api.workflows({ signal }), [], { refreshS: visible ? IDLE_POLL_S : 0 });
  const [chosen, setChosen] = useState<string | null>(null);
  const name = chosen ?? workflows.data?.workflows[0]?.name ?? null;
  const detail = useApi((signal) => api.workflow(name!, { signal }), [name], { enabled: name !== null });

  const [executionId, setExecutionId] = useState<string | null>(null);
  const [active, setActive] = useState(false);
  const refreshS = visible ? (active ? ACTIVE_POLL_S : IDLE_POLL_S) : 0;
  const executions = useApi((signal) => api.executions(name!, { signal }), [name], { enabled: name !== null, refreshS });
  const [executionRunning, setExecutionRunning] = useState(true);
  const execution = useApi((signal) => api.execution(executionId!, { signal }), [executionId], {
    enabled: executionId !== null,
    refreshS: visible && executionRunning ? ACTIVE_POLL_S : 0,
  });
  const shown = execution.data?.id === executionId ? execution.data : undefined;
  const list = executions.data?.executions ?? [];
  useEffect(() => setExecutionRunning(shown ? isActive(shown) : true), [shown]);
  useEffect(() => setActive((executions.data?.executions ?? []).some(isActive)), [executions.data]);

  // A workflow's qcl.notify message on the live channel: its execution moved on, so look now rather than at the poll.
  useLiveTopic('workflow', (notice) => {
    if (notice.workflow === name) executions.reload();
    if (notice.execution_id === executionId) execution.reload();
  });

  // Announce executions whose state changed between two polls.
  const [announcement, setAnnouncement] = useState('');
  const previous = useRef<Map<string, ExecutionState> | null>(null);
  useEffect(() => {
    if (!executions.data) return;
    const before = previous.current;
    const changed = before ? list.filter((item) => before.has(item.id) && before.get(item.id) !== item.state) : [];
    previous.current = new Map(list.map((item) => [item.id, item.state]));
    if (changed.length > 0) {
      setAnnouncement(
        changed.map((item) => t('workflows.changed', { id: shortId(item.id), state: t(`executionState.${item.state}`) })).join(' '),
      );
      if (changed.some((item) => item.id === executionId)) execution.reload();
    }
  }, [executions.data]);

  const [cancelling, setCancelling] = useState(false);
  const [cancelError, setCancelError] = useState<ApiError | null>(null);

  async function cancel(id: string) {
    setCancelling(true);
    setCancelError(null);
    try {
      await api.cancelExecution(id);
      executions.reload();
      execution.reload();
    } catch (failure) {
      setCancelError(asApiError(failure));
    } finally {
      setCancelling(false);
    }
  }

  const started = (run: Execution) => {
    setExecutionId(run.id);
    setActive(true);
    executions.reload();
  };

  const choose = (next: string) => {
    setChosen(next);
    setExecutionId(null);
    previous.current = null;
  };

  return (
    <Stack spacing={2}>
      <LiveAnnouncement testId="workflows-announcement">{announcement}</LiveAnnouncement>
      {canOperate === false && (
        <Alert severity="info" data-testid="viewer-note">
          {t('workflows.viewerNote')}
        </Alert>
      )}
      <Box sx={{ display: 'grid', gap: 2, gridTemplateColumns: { xs: 'minmax(0, 1fr)', md: 'repeat(2, minmax(0, 1fr))' } }}>
        <Panel id="workflows-list" title={t('workflows.deployed')}>
          {workflows.loading ? (
            <LoadingBlock height={160} />
          ) : workflows.error ? (
            <ApiErrorAlert error={workflows.error} onRetry={workflows.reload} />
          ) : (workflows.data?.workflows.length ?? 0) === 0 ? (
            <EmptyState title={t('workflows.none')} hint={t('workflows.noneHint')} />
          ) : (
            <TableContainer sx={{ overflowX: 'auto' }} tabIndex={0} role="region" aria-label={t('workflows.deployed')}>
              <Table size="small" aria-label={t('workflows.deployed')} data-testid="workflows">
                <TableHead>
                  <TableRow>
                    <TableCell>{t('workflows.col.name')}</TableCell>
                    <TableCell>{t('workflows.col.revision')}</TableCell>
                    <TableCell>{t('workflows.col.triggers')}</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {workflows.data!.workflows.map((workflow) => (
                    <TableRow key={workflow.name} selected={workflow.name === name} data-workflow={workflow.name}>
                      <TableCell>
                        <Button
                          size="small"
                          onClick={() => choose(workflow.name)}
                          aria-pressed={workflow.name === name}
                          sx={{ textTransform: 'none', fontFamily: 'monospace' }}
                        >
                          {workflow.name}
                        </Button>
                      </TableCell>
                      <TableCell sx={{ fontFamily: 'monospace' }}>{workflow.revision_id}</TableCell>
                      <TableCell>{workflow.triggers.length}</TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            </TableContainer>
          )}
        </Panel>
        {name && (
          <Panel id="workflows-run" title={t('workflows.chosen', { name })}>
            {detail.data && (
              <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }} data-testid="revisions">
                {t('workflows.revisions', {
                  revisions: detail.data.revisions.join(', '),
                  latest: detail.data.latest.revision_id,
                  at: formatDateTime(detail.data.latest.created_at * 1000, language),
                })}
              </Typography>
            )}
            {detail.error && <ApiErrorAlert error={detail.error} onRetry={detail.reload} />}
            {canOperate && <RunForm key={name} name={name} onStarted={started} />}
          </Panel>
        )}
      </Box>

      {name && (
        <Panel id="workflows-executions" title={t('workflows.executions', { name })}>
          {executions.loading ? (
            <LoadingBlock height={160} />
          ) : executions.error && !executions.data ? (
            <ApiErrorAlert error={executions.error} onRetry={executions.reload} />
          ) : list.length === 0 ? (
            <EmptyState title={t('workflows.noExecutions')} hint={canOperate ? t('workflows.noExecutionsHint') : undefined} />
          ) : (
            <TableContainer sx={{ overflowX: 'auto' }} tabIndex={0} role="region" aria-label={t('workflows.executions', { name })}>
              <Table size="small" sx={{ '& th, & td': { whiteSpace: 'nowrap' } }} aria-label={t('workflows.executions', { name })} data-testid="executions">
                <TableHead>
                  <TableRow>
                    <TableCell>{t('tasks.col.id')}</TableCell>
                    <TableCell>{t('jobs.col.state')}</TableCell>
                    <TableCell>{t('workflows.col.revision')}</TableCell>
                    <TableCell>{t('workflows.col.trigger')}</TableCell>
                    <TableCell>{t('jobs.col.created')}</TableCell>
                    <TableCell>{t('workflows.col.steps')}</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {list.map((item) => (
                    <TableRow key={item.id} selected={item.id === executionId} data-execution={item.id}>
                      <TableCell>
                        <Button
                          size="small"
                          onClick={() => setExecutionId(item.id)}
                          aria-label={t('workflows.open', { id: shortId(item.id) })}
                          sx={{ textTransform: 'none', fontFamily: 'monospace' }}
                        >
                          {shortId(item.id)}
                        </Button>
                      </TableCell>
                      <TableCell>
                        <ExecutionStateChip state={item.state} />
                      </TableCell>
                      <TableCell>{item.revision}</TableCell>
                      <TableCell>{item.trigger}</TableCell>
                      <TableCell>{formatDateTime(item.created_at * 1000, language)}</TableCell>
                      <TableCell>{item.steps_done}</TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            </TableContainer>
          )}
        </Panel>
      )}

      {executionId && (
        <Panel id="workflows-execution" title={t('workflows.execution', { id: shortId(executionId) })}>
          {cancelError && (
            <Box sx={{ mb: 2 }}>
              <ApiErrorAlert error={cancelError} />
            </Box>
          )}
          {!shown && !execution.error ? (
            <LoadingBlock height={200} />
          ) : execution.error && !shown ? (
            <ApiErrorAlert error={execution.error} onRetry={execution.reload} />
          ) : shown ? (
            <ExecutionView
              execution={shown}
              canOperate={canOperate === true}
              cancelling={cancelling}
              onCancel={() => void cancel(executionId)}
            />
          ) : null}
        </Panel>
      )}
    </Stack>
  );
}
