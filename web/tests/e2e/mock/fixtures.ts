/**
 * Data for the mocked-API browser tests, shaped like the Python models (report.py, events.py) and like the bundled
 * synthetic capture (epoch 186, Wednesday 2025-11-12, price ≈ 9e-7 USD). Built by functions, not copied JSON, so
 * a test can ask for "two hours of history" and get consistent numbers.
 */
import type {
  KeyView,
  AIInsight,
  AnalysisReport,
  Finding,
  Insight,
  NodeView,
  OracleResult,
  ShardDetail,
  Stage,
  Task,
  Topology,
} from '../../../src/api/types';

export const LATEST_AT = Date.parse('2025-11-12T10:00:00Z');

export function report(at: number, index = 0): AnalysisReport {
  const price = 9.1e-7 * (1 + 0.02 * Math.sin(index / 15));
  return {
    observed_at: new Date(at).toISOString(),
    health_score: 72,
    status: 'degraded',
    window_observations: 240 + index,
    observation_event_id: `obs-${index}`,
    metrics: {
      epoch: 186,
      tick: 37_000_000 + index * 28,
      tick_duration_s: 1,
      tick_rate_per_s: 0.94,
      epoch_tick_quality_pct: 98.61,
      tick_quality_last_10k_pct: 97.9,
      empty_ticks_in_epoch: 8123,
      ticks_in_epoch: 560_000,
      price_usd: price,
      price_change_1h_pct: 0.6,
      price_change_24h_pct: -2.4,
      circulating_supply: 156_381_204_887_512,
      burned_qus: 29_618_795_112_488,
      market_cap_usd: 142_619_661,
      active_addresses: 571_904,
      archive_lag_ticks: 12,
    },
    findings: [],
  };
}

export const FINDINGS: Finding[] = [
  {
    code: 'empty_ticks_high',
    severity: 'warning',
    observed_at: '2025-11-12T09:58:00Z',
    tick: 37_000_100,
    metric: 'latest_stats.empty_ticks_share_pct',
    value: 4.2,
    threshold: 3,
    message_en: 'Empty ticks rose to 4.2% of the last window (limit 3%)',
    message_zh: '最近一段空 tick 比例升到 4.2%（上限 3%）',
    evidence: { share_pct: 4.2 },
  },
  {
    code: 'tick_stall',
    severity: 'critical',
    observed_at: '2025-11-12T09:52:00Z',
    tick: 36_998_410,
    metric: 'tick_info.duration_s',
    value: 121,
    threshold: 120,
    message_en: 'No new tick for 121 s (stuck at tick 36998410)',
    message_zh: '網路已 121 秒沒有新的 tick（停在 tick 36998410）',
    evidence: { stall_s: 121 },
  },
  {
    code: 'price_trend',
    severity: 'info',
    observed_at: '2025-11-12T09:55:00Z',
    tick: 36_998_410,
    metric: 'latest_stats.price_change_1h_pct',
    value: 'flat',
    threshold: 1,
    message_en: 'Price 9.18e-7 USD: flat (+0.6%) over 1 h',
    message_zh: '價格 9.18e-7 美元：1 小時持平（+0.6%）',
    evidence: { change_1h_pct: 0.6 },
  },
];

/** `hours` of reports, one every 2 minutes, ending at LATEST_AT; the newest carries the findings. */
export function history(hours: number): AnalysisReport[] {
  const count = Math.round((hours * 3600) / 120);
  const reports = Array.from({ length: count + 1 }, (_, i) => report(LATEST_AT - (count - i) * 120_000, i));
  reports[reports.length - 1] = { ...reports[reports.length - 1]!, findings: FINDINGS };
  return reports;
}

export function latest(): AnalysisReport {
  return history(0)[0]!;
}

/** A narrative as /api/insights gives it: with the id and time of the ai-insights event it was published in. */
export const NARRATIVE: Insight = {
  id: '6f1c2a9e-0d4b-5c7a-9e21-3b8f4d2c1a00',
  time: '2025-11-12T10:00:02Z',
  request_id: null,
  kind: 'narrative',
  text: '網路目前降級：健康分數 72。最近空 tick 比例升到 4.2%，價格 1 小時持平（+0.6%）。',
  language: 'zh-TW',
  model: 'smollm2-135m-instruct',
  grounded: true,
  fallback_used: false,
  fallback_reason: null,
  grounding_issues: [],
  confidence: 0.82,
  sources: ['empty_ticks_high', 'price_trend', 'latest_stats.price_change_1h_pct'],
  latency_ms: 412,
  report_observed_at: '2025-11-12T10:00:00Z',
};

/** An answer as POST /api/ai/question gives it in template mode (not published: no event id): exact numbers,
 * marked as the template's. */
export function answer(question: string, language: 'zh-TW' | 'en'): AIInsight {
  return {
    request_id: null,
    kind: 'answer',
    text:
      language === 'zh-TW'
        ? `（${question}）網路健康分數 72（降級）：空 tick 比例 4.2% 高於 3% 上限。`
        : `(${question}) Health score 72 (degraded): empty ticks at 4.2%, above the 3% limit.`,
    language,
    model: 'template',
    grounded: false,
    fallback_used: true,
    fallback_reason: 'templates_only: no model configured',
    grounding_issues: [],
    confidence: 0.9,
    sources: ['empty_ticks_high', 'health_score'],
    latency_ms: 0.4,
    report_observed_at: '2025-11-12T10:00:00Z',
  };
}

const SEEN = '2025-11-12T10:00:00Z';

/** A shard of SmolLM2's 30 layers split in three stages (as `qcl up --shards 3` plans them), stage 0 with a replica. */
const shard = (
  node_id: string,
  stage: number,
  replica: number,
  layers: [number, number],
  state: NodeView['state'],
  last_event: NodeView['last_event'],
): NodeView => {
  const detail: ShardDetail = {
    stage,
    replica,
    layers: [layers],
    address: `127.0.0.1:${50051 + stage * 2 + replica}`,
    model: 'smollm2-135m-instruct',
    sessions: state === 'up' ? 1 : 0,
    max_sessions: 16,
    last_heartbeat: state === 'up' ? SEEN : '2025-11-12T09:59:52Z',
    heartbeat_age_s: state === 'up' ? 0.4 : 8.4,
  };
  return {
    node_id,
    role: 'shard',
    state,
    lifecycle: 'active',
    last_event,
    last_seen: SEEN,
    detail: last_event === 'failed' ? 'missed 3 heartbeats' : `serves layers ${layers[0]}:${layers[1]}`,
    shard: detail,
    oracle: null,
  };
};

/** A member of the 4-member committee; oracle-1 leads the current view, oracle-3 left and is excluded. */
const member = (index: number, state: NodeView['state'], reputation: number, excluded = false): NodeView => ({
  node_id: `oracle-${index}`,
  role: 'oracle',
  state,
  lifecycle: 'active',
  last_event: state === 'up' ? 'joined' : 'left',
  last_seen: SEEN,
  detail: excluded ? 'excluded from the committee: deviation' : '',
  shard: null,
  oracle: { index, primary: index === 1, running: state === 'up', reputation, excluded, tombstoned: false },
});

export const NODES: NodeView[] = [
  shard('local-s0-r0', 0, 0, [0, 11], 'up', 'joined'),
  shard('local-s0-r1', 0, 1, [0, 11], 'up', 'recovered'),
  shard('local-s1-r0', 1, 0, [11, 21], 'up', 'joined'),
  shard('local-s2-r0', 2, 0, [21, 30], 'down', 'failed'),
  member(0, 'up', 1),
  member(1, 'up', 0.9875),
  member(2, 'up', 0.95),
  member(3, 'left', 0.31, true),
];

const STAGES: Stage[] = [
  { stage: 0, layers: [0, 11], nodes: ['local-s0-r0', 'local-s0-r1'], up: 2 },
  { stage: 1, layers: [11, 21], nodes: ['local-s1-r0'], up: 1 },
  { stage: 2, layers: [21, 30], nodes: ['local-s2-r0'], up: 0 },
];

function group(role: NodeView['role']) {
  const nodes = NODES.filter((view) => view.role === role);
  return { nodes, total: nodes.length, up: nodes.filter((view) => view.state === 'up').length };
}

export const TOPOLOGY: Topology = {
  shard_pool: { ...group('shard'), stages: STAGES },
  oracle_committee: {
    ...group('oracle'),
    committee_id: 'c0'.repeat(32),
    f: 1,
    quorum: 3,
    sequence: 7,
    view: 0,
    primary: 'oracle-1',
  },
};

/** The spec of an oracle job as qcl.oracle.jobs.analysis_spec pins it (the job id is the sha256 of this spec). */
const SPEC: OracleResult['spec'] = {
  kind: 'exact',
  task: 'analysis.findings',
  input_digest: 'e'.repeat(64),
  code_version: 'qcl-0.1.0/oracle-v1',
  model_id: null,
  weights_sha256: null,
  prompt_version: null,
  decoding: null,
  max_new_tokens: null,
  tolerance: null,
  subject: 'window/2025-11-12T09:00:00Z/2025-11-12T10:00:00Z',
};

/** An oracle task as POST /api/tasks answers it: the job as filed ({job_id: sha256(spec), sequence, spec}). */
export function oracleTask(state: Task['state'] = 'queued'): Task {
  return {
    id: 'a'.repeat(64),
    kind: 'oracle',
    state,
    created_at: SEEN,
    updated_at: SEEN,
    submitted_by: '1f2e3d4c',
    request: { kind: 'oracle', task: 'analysis.findings', window: null },
    job: { job_id: 'a'.repeat(64), sequence: 7, spec: SPEC },
    started_at: state === 'queued' ? null : SEEN,
    worker: state === 'queued' ? null : 'oracle-1',
    result: null,
    error: null,
  };
}

export const ATTESTATION: OracleResult = {
  job_id: 'a'.repeat(64),
  committee_id: 'c0'.repeat(32),
  kind: 'exact',
  status: 'committed',
  result: [{ code: 'empty_ticks_high', severity: 'warning' }],
  result_digest: 'b'.repeat(64),
  digest: 'd'.repeat(64),
  view: 0,
  sequence: 7,
  spec: SPEC,
  observations: ['oracle-0', 'oracle-1', 'oracle-2'].map((node_id) => ({
    node_id,
    value: null,
    result_digest: 'b'.repeat(64),
    proof: null,
    signature: 'c2lnbmF0dXJl'.repeat(6),
  })),
  certificate: ['oracle-0', 'oracle-1', 'oracle-2'].map((node_id) => ({ node_id, signature: 'c2lnbmF0dXJl'.repeat(6) })),
};

/** API keys as GET /api/admin/keys lists them: the stack's admin key, a scoped viewer key, a revoked one. */
export const KEYS: KeyView[] = [
  { id: 'e5f4d56b', name: 'admin (qcl up)', role: 'admin', created_at: '2025-11-12T08:00:00Z', created_by: 'qcl up', revoked_at: null, expires_at: null, tags: null },
  { id: '3f9c0a12', name: 'grafana', role: 'viewer', created_at: '2025-11-12T09:00:00Z', created_by: 'key:e5f4d56b', revoked_at: null, expires_at: '2025-12-12T09:00:00Z', tags: ['nodes', 'network'] },
  { id: '0badc0de', name: 'old laptop', role: 'operator', created_at: '2025-11-11T09:00:00Z', created_by: 'key:e5f4d56b', revoked_at: '2025-11-12T09:30:00Z', expires_at: null, tags: null },
];
