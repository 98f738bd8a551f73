/** Coloured labels for severities and states; the colour is never the only signal (the word is always there). */
import { Chip } from '@mui/material';
import type { ExecutionState, HealthStatus, JobState, NodeState, OracleResult, Severity, TaskState } from '../api/types';
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
