/**
 * The API's request and response shapes: the ONE file to replace when the types are generated from the API's
 * OpenAPI spec (GET /api/openapi.json). Until then they are written by hand from issue 6's endpoint list and the
 * Python models they serialise (shared/qcl/analysis/report.py, shared/qcl/events.py); the rest of the app imports
 * these names only, so regenerating means re-pointing these aliases at the generated `components['schemas']`.
 *
 * Timestamps are RFC 3339 strings in UTC, as pydantic serialises `datetime`.
 */

export type Language = 'zh-TW' | 'en';
export type Role = 'viewer' | 'operator' | 'admin';

// --- analysis (report.py) ---------------------------------------------------------------------------------------

export type FindingCode =
  | 'tick_stall'
  | 'tick_rate_low'
  | 'empty_ticks_high'
  | 'tick_quality_drop'
  | 'price_crash'
  | 'price_spike'
  | 'price_trend'
  | 'supply_anomaly'
  | 'epoch_transition'
  | 'archive_lag'
  | 'data_gap'
  | 'data_invalid';

export type Severity = 'info' | 'warning' | 'critical';
export type HealthStatus = 'healthy' | 'degraded' | 'critical';

export interface Finding {
  code: FindingCode;
  severity: Severity;
  observed_at: string;
  tick: number | null;
  metric: string;
  value: number | string | null;
  threshold: number | null;
  message_en: string;
  message_zh: string;
  evidence: Record<string, number | string | null>;
}

export interface NetworkMetrics {
  epoch: number;
  tick: number;
  tick_duration_s: number;
  tick_rate_per_s: number | null;
  epoch_tick_quality_pct: number;
  tick_quality_last_10k_pct: number | null;
  empty_ticks_in_epoch: number;
  ticks_in_epoch: number;
  price_usd: number;
  price_change_1h_pct: number | null;
  price_change_24h_pct: number | null;
  circulating_supply: number;
  burned_qus: number;
  market_cap_usd: number;
  active_addresses: number;
  archive_lag_ticks: number | null;
}

export interface AnalysisReport {
  observed_at: string;
  health_score: number;
  status: HealthStatus;
  metrics: NetworkMetrics | null;
  findings: Finding[];
  window_observations: number;
  observation_event_id?: string | null;
}

/** GET /api/network/history?from=&to= */
export interface NetworkHistory {
  reports: AnalysisReport[];
}

// --- AI (events.py AIInsight) -------------------------------------------------------------------------------------

export interface AIInsight {
  request_id?: string | null;
  kind: 'narrative' | 'answer';
  text: string;
  language: Language;
  model: string;
  grounded: boolean;
  fallback_used: boolean;
  confidence: number;
  sources: string[];
  latency_ms: number;
}

/** An insight as the API lists it: the event's id and time around the insight. */
export interface InsightRecord extends AIInsight {
  id: string;
  time: string;
  question?: string | null;
}

/** GET /api/insights?limit= */
export interface InsightList {
  insights: InsightRecord[];
}

/** POST /api/ai/question */
export interface QuestionRequest {
  question: string;
  language?: Language;
}

/** GET /api/ai/status */
export interface AIStatus {
  version: string;
  models: { id: string; loaded: boolean }[];
  queue_depth: number;
  degraded: string[];
  bus: string;
  store: string;
  shard_pool: { stages: number; healthy_nodes: number; nodes: number } | null;
  oracle: { members: number; f: number; view: number } | null;
}

/** GET /api/auth/whoami (proposed to the API: the role of the key in use). */
export interface WhoAmI {
  role: Role;
}

// --- nodes and topology --------------------------------------------------------------------------------------------

export type NodeRole = 'shard' | 'oracle';
export type NodeStatus = 'healthy' | 'degraded' | 'failed' | 'left';

export interface NodeInfo {
  node_id: string;
  role: NodeRole;
  status: NodeStatus;
  last_heartbeat: string | null;
  address?: string | null;
  stage?: number | null;
  layers?: [number, number] | null; // first and last layer held, inclusive
  load?: number | null;
  reputation?: number | null; // oracle members: 0..1
}

/** GET /api/nodes */
export interface NodeList {
  nodes: NodeInfo[];
}

export interface StageTopology {
  stage: number;
  layers: [number, number];
  replicas: string[]; // node ids
}

/** GET /api/topology */
export interface Topology {
  stages: StageTopology[];
  oracle: { members: string[]; primary: string | null; view: number; f: number } | null;
}

/** A node joined, left, failed or recovered (events.py NodeEvent). */
export interface NodeEvent {
  node_id: string;
  role: NodeRole;
  kind: 'joined' | 'left' | 'failed' | 'recovered';
  detail: string;
}

// --- oracle (events.py OracleResult) -------------------------------------------------------------------------------

export interface OracleSignature {
  node_id: string;
  signature: string;
}

export interface OracleResult {
  job_id: string;
  result: string | number | null;
  digest: string;
  view: number;
  sequence: number;
  certificate: OracleSignature[];
}

export interface AttestationRecord extends OracleResult {
  id: string;
  time: string;
  verified: boolean | null; // null: not checked yet
  committee_size: number; // n = 3f + 1
}

/** GET /api/oracle/results */
export interface AttestationList {
  results: AttestationRecord[];
}

// --- tasks ---------------------------------------------------------------------------------------------------------

export type TaskKind = 'narration' | 'question' | 'oracle';
export type TaskStatus = 'queued' | 'running' | 'done' | 'failed';

/** POST /api/tasks */
export interface TaskRequest {
  kind: TaskKind;
  question?: string;
  language?: Language;
}

/** GET /api/tasks/{id} */
export interface Task {
  id: string;
  kind: TaskKind;
  status: TaskStatus;
  created_at: string;
  updated_at: string;
  result?: unknown;
  error?: string | null;
}

// --- errors --------------------------------------------------------------------------------------------------------

/** Every 4xx/5xx body. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string | null; request_id: string };
}

// --- WebSocket /api/ws ---------------------------------------------------------------------------------------------

/** What the live channel carries, by topic. */
export interface LiveTopics {
  'network-analysis': AnalysisReport;
  'ai-insights': InsightRecord;
  'node-events': NodeEvent;
  'oracle-results': AttestationRecord;
  'task-updates': Task;
}
export type LiveTopic = keyof LiveTopics;

/** Client → server, first message after every (re)connect: authenticate and resume after `resume_after`. */
export interface LiveHello {
  type: 'hello';
  token: string | null;
  resume_after: number | null;
}

/** Server → client. */
export type LiveServerMessage =
  | { type: 'ready'; seq: number; resumed: boolean } // resumed=false: events were missed, refetch snapshots
  | { type: 'event'; seq: number; topic: LiveTopic; time: string; data: unknown }
  | { type: 'ping' }
  | { type: 'error'; error: ErrorBody['error'] };
