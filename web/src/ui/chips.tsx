/** Coloured labels for severities and states; the colour is never the only signal (the word is always there). */
import { Chip } from '@mui/material';
import type { AlertRecord, ExecutionState, HealthStatus, JobState, NodeState, OracleResult, Severity, SilenceState, TaskState } from '../api/types';
import { useT } from '../state/settings';

type Color = 'default' | 'success' | 'warning' | 'error' | 'info';

const SEVERITY_COLOR: Record<Severity, Color> = { info: 'info', warning: 'warning', critical: 'error' };
const HEALTH_COLOR: Record<HealthStatus, Color> = { healthy: 'success', degraded: 'warning', critical: 'error' };
const NODE_COLOR: Record<NodeState, Color> = { up: 'success', down: 'error', left: 'default' };
const TASK_COLOR: Record<TaskState, Color> = { queued: 'default', running: 'info', done: 'success', failed: 'error' };
const JOB_COLOR: Record<JobState, Color> = {
  queued: 'default',
  running: 'info',
  done: 'success',
  failed: 'error',
  cancelled: 'warning',
  dead: 'error',
};
const EXECUTION_COLOR: Record<ExecutionState, Color> = {
  queued: 'default',
  running: 'info',
  succeeded: 'success',
  failed: 'error',
  cancelled: 'warning',
};
const ORACLE_COLOR: Record<OracleResult['status'], Color> = { committed: 'success', unresolvable: 'warning' };

export function SeverityChip({ severity }: { severity: Severity }) {
  const t = useT();
  return <Chip size="small" color={SEVERITY_COLOR[severity]} label={t(`severity.${severity}`)} />;
}

export function HealthChip({ status }: { status: HealthStatus }) {
  const t = useT();
  return <Chip size="small" color={HEALTH_COLOR[status]} label={t(`health.${status}`)} data-testid="health-status" />;
}

export function NodeStateChip({ state }: { state: NodeState }) {
  const t = useT();
  return <Chip size="small" color={NODE_COLOR[state]} label={t(`nodeState.${state}`)} data-testid="node-state" />;
}

export function TaskStateChip({ state }: { state: TaskState }) {
  const t = useT();
  return <Chip size="small" color={TASK_COLOR[state]} label={t(`taskState.${state}`)} data-testid="task-state" />;
}

export function OracleStatusChip({ status }: { status: OracleResult['status'] }) {
  const t = useT();
  return <Chip size="small" color={ORACLE_COLOR[status]} label={t(`oracle.status.${status}`)} />;
}

export function JobStateChip({ state }: { state: JobState }) {
  const t = useT();
  return <Chip size="small" color={JOB_COLOR[state]} label={t(`jobState.${state}`)} data-testid="job-state" data-state={state} />;
}

export function ExecutionStateChip({ state }: { state: ExecutionState }) {
  const t = useT();
  return (
    <Chip size="small" color={EXECUTION_COLOR[state]} label={t(`executionState.${state}`)} data-testid="execution-state" data-state={state} />
  );
}

const ALERT_SEVERITY_COLOR: Record<string, Color> = { page: 'error', ticket: 'warning' };
const ALERT_STATUS_COLOR: Record<AlertRecord['status'], Color> = { firing: 'error', resolved: 'success' };
const SILENCE_COLOR: Record<SilenceState, Color> = { active: 'info', pending: 'default', expired: 'default' };

/** An alert rule's severity label: page (someone is woken) or ticket; another label is shown as it is. */
export function AlertSeverityChip({ severity }: { severity: string }) {
  const t = useT();
  const label = severity === 'page' ? t('alertSeverity.page') : severity === 'ticket' ? t('alertSeverity.ticket') : severity;
  return (
    <Chip
      size="small"
      color={ALERT_SEVERITY_COLOR[severity] ?? 'default'}
      label={label}
      data-testid="alert-severity"
      data-severity={severity}
    />
  );
}

export function AlertStatusChip({ status }: { status: AlertRecord['status'] }) {
  const t = useT();
  return <Chip size="small" color={ALERT_STATUS_COLOR[status]} label={t(`alertStatus.${status}`)} data-testid="alert-status" data-status={status} />;
}

export function SilenceStateChip({ state }: { state: SilenceState }) {
  const t = useT();
  return (
    <Chip size="small" color={SILENCE_COLOR[state]} variant={state === 'expired' ? 'outlined' : 'filled'} label={t(`silenceState.${state}`)} data-testid="silence-state" data-state={state} />
  );
}
