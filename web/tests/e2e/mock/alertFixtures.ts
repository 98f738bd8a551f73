/** Shapes of /api/ops/alerts and /api/ops/silences answers (as qcl/api/routes_alerts.py gives them), shared by the
 * unit tests and the mocked browser tests. */
import type { AlertList, AlertRecord, Silence } from '../../../src/api/types';

export const ALERT_START = '2025-11-12T08:00:00Z';

export function alertRecord(alertname: string, extra: Partial<AlertRecord> = {}): AlertRecord {
  return {
    fingerprint: `fp-${alertname}`,
    alertname,
    status: 'firing',
    severity: 'ticket',
    summary: `summary of ${alertname}`,
    runbook_url: `docs/runbooks/${alertname}.md`,
    labels: { alertname, severity: extra.severity ?? 'ticket' },
    starts_at: ALERT_START,
    ends_at: null,
    received_at: '2025-11-12T08:00:05Z',
    findings: [],
    deliveries: [{ channel: 'slack', ok: true, error: null }],
    ...extra,
  };
}

export const NODE_DOWN = alertRecord('QclNodeDown', {
  severity: 'page',
  summary: '1 shard node(s) down',
  labels: { alertname: 'QclNodeDown', severity: 'page', role: 'shard', instance: '10.0.0.7:9100', job: 'qcl-nodes' },
  findings: [
    {
      code: 'node_down',
      severity: 'critical',
      message_en: 'shard-1 has not sent a heartbeat for 90 s',
      observed_at: '2025-11-12T07:59:30Z',
    },
  ],
  deliveries: [
    { channel: 'slack', ok: true, error: null },
    { channel: 'pagerduty', ok: false, error: 'HTTP 503 from events.pagerduty.com' },
  ],
});

export const LAG = alertRecord('QclBusLagHigh', { summary: 'ai-insights lags 420 s', labels: { alertname: 'QclBusLagHigh', severity: 'ticket', job: 'qcl-api' } });

export function alertList(active: AlertRecord[] = [NODE_DOWN, LAG]): AlertList {
  const resolved = alertRecord('QclApiLatencyHigh', { status: 'resolved', received_at: '2025-11-12T07:30:00Z', ends_at: '2025-11-12T07:29:00Z' });
  const fired = alertRecord('QclApiLatencyHigh', { received_at: '2025-11-12T07:10:00Z' });
  return { active, history: [...active, resolved, fired] };
}

export function silence(id: string, state: Silence['state'], extra: Partial<Silence> = {}): Silence {
  return {
    id,
    alertname: 'QclNodeDown',
    matchers: { alertname: 'QclNodeDown', role: 'shard' },
    state,
    starts_at: '2025-11-12T08:10:00Z',
    ends_at: '2025-11-12T09:10:00Z',
    created_by: 'key:1f2e3d4c',
    comment: 'maintenance window',
    ...extra,
  };
}

export const SILENCE_ACTIVE = silence('6b1d2f0e-0000-4000-8000-000000000001', 'active');
export const SILENCE_EXPIRED = silence('6b1d2f0e-0000-4000-8000-000000000002', 'expired', {
  alertname: 'QclBusLagHigh',
  matchers: { alertname: 'QclBusLagHigh' },
  ends_at: '2025-11-11T09:10:00Z',
});

export const RULES = ['QclApiAbsent', 'QclBusLagHigh', 'QclNodeDown'];
