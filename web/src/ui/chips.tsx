/** Coloured labels for severities and statuses; the colour is never the only signal (the word is always there). */
import { Chip } from '@mui/material';
import type { HealthStatus, NodeStatus, Severity, TaskStatus } from '../api/types';
import { useT } from '../state/settings';

type Color = 'default' | 'success' | 'warning' | 'error' | 'info';

const SEVERITY_COLOR: Record<Severity, Color> = { info: 'info', warning: 'warning', critical: 'error' };
const HEALTH_COLOR: Record<HealthStatus, Color> = { healthy: 'success', degraded: 'warning', critical: 'error' };
const NODE_COLOR: Record<NodeStatus, Color> = { healthy: 'success', degraded: 'warning', failed: 'error', left: 'default' };
const TASK_COLOR: Record<TaskStatus, Color> = { queued: 'default', running: 'info', done: 'success', failed: 'error' };

export function SeverityChip({ severity }: { severity: Severity }) {
  const t = useT();
  return <Chip size="small" color={SEVERITY_COLOR[severity]} label={t(`severity.${severity}`)} />;
}

export function HealthChip({ status }: { status: HealthStatus }) {
  const t = useT();
  return <Chip size="small" color={HEALTH_COLOR[status]} label={t(`health.${status}`)} data-testid="health-status" />;
}

export function NodeStatusChip({ status }: { status: NodeStatus }) {
  const t = useT();
  return <Chip size="small" color={NODE_COLOR[status]} label={t(`nodeStatus.${status}`)} />;
}

export function TaskStatusChip({ status }: { status: TaskStatus }) {
  const t = useT();
  return <Chip size="small" color={TASK_COLOR[status]} label={t(`taskStatus.${status}`)} data-testid="task-status" />;
}
