/**
 * The API's request and response shapes under the names the app uses. They come from the API's OpenAPI document:
 * `npm run gen:api -- --from http://127.0.0.1:<port>` refreshes src/api/openapi.json and the generated
 * src/api/schema.d.ts; this file only names what the app imports, so an API change is one regeneration and the
 * type checker then points at every use that no longer fits.
 *
 * Timestamps are RFC 3339 strings in UTC (pydantic's serialisation of `datetime`).
 */
import type { components } from './schema';

type Schemas = components['schemas'];

export type Language = 'zh-TW' | 'en';
export type Role = Schemas['Role'];

// --- analysis -----------------------------------------------------------------------------------------------
export type AnalysisReport = Schemas['AnalysisReport'];
export type Finding = Schemas['Finding'];
export type FindingCode = Schemas['FindingCode'];
export type NetworkMetrics = Schemas['NetworkMetrics'];
export type Severity = Finding['severity'];
export type HealthStatus = AnalysisReport['status'];
export type NetworkHistory = Schemas['HistoryResponse'];

// --- AI -----------------------------------------------------------------------------------------------------
export type AIInsight = Schemas['AIInsight'];
/** An insight as /api/insights and the live channel give it: with the id and time of its ai-insights event. */
export type Insight = Schemas['InsightView'];
export type InsightList = Schemas['InsightsResponse'];
export type QuestionRequest = Schemas['QuestionRequest'];
export type AIStatus = Schemas['StatusResponse'];

/**
 * POST /api/ai/question with `Accept: text/event-stream` (Server-Sent Events; not in the OpenAPI document, shapes
 * from qcl/narrate/phrasing.py): `answer` (the composed answer, at once), then zero or more `delta` (one checked
 * sentence of the model's phrasing each), then `final` (the phrasing when it passed every check: `model` is the
 * model id and `grounded` true; else the composed answer again, `fallback_used` with the reason). Other event
 * names are ignored.
 */
export type AnswerStreamEvent =
  | { type: 'answer'; insight: AIInsight }
  | { type: 'delta'; text: string }
  | { type: 'final'; insight: AIInsight };

// --- nodes --------------------------------------------------------------------------------------------------
export type NodeView = Schemas['NodeView'];
export type NodeRole = NodeView['role'];
export type NodeState = NodeView['state'];
export type NodeEventKind = NodeView['last_event'];
/** An operator's drain, restart or removal of the node (POST /api/admin/nodes/{id}/{action}). */
export type NodeLifecycle = NodeView['lifecycle'];
export type NodeAction = Schemas['NodeActionResult']['action'];
export type NodeActionResult = Schemas['NodeActionResult'];
export type ShardDetail = Schemas['ShardDetail'];
export type OracleMemberDetail = Schemas['OracleMemberDetail'];
export type NodeList = Schemas['NodesResponse'];
export type Topology = Schemas['TopologyResponse'];
export type ShardPool = Schemas['ShardPoolView'];
export type Stage = Schemas['StageView'];
export type Committee = Schemas['CommitteeView'];

// --- oracle -------------------------------------------------------------------------------------------------
export type OracleResult = Schemas['OracleResult'];
export type OracleSignature = Schemas['OracleSignature'];
export type OracleRequest = Schemas['OracleRequest'];
export type AttestationList = Schemas['OracleResultsResponse'];

// --- tasks --------------------------------------------------------------------------------------------------
export type Task = Schemas['TaskView'];
export type TaskKind = Task['kind'];
export type TaskState = Task['state'];
export type TaskRequest = Schemas['NarrationTask'] | Schemas['QuestionTask'] | Schemas['OracleTask'];
export type OracleTaskName = Schemas['OracleTask']['task'];

// --- jobs (qcl.compute) --------------------------------------------------------------------------------------
export type Job = Schemas['Job'];
export type JobState = Job['state'];
export type Priority = Job['priority'];
export type JobRequest = Schemas['JobRequest'];
export type JobsAccepted = Schemas['JobsAccepted'];
export type JobList = Schemas['JobList'];
export type QuotaReport = Schemas['QuotaReport'];
export type KeyUsage = Schemas['KeyUsage'];

// --- workflows ----------------------------------------------------------------------------------------------
export type WorkflowSummary = Schemas['WorkflowSummary'];
export type WorkflowList = Schemas['WorkflowsResponse'];
export type WorkflowDetail = Schemas['WorkflowDetail'];
export type Execution = Schemas['ExecutionView'];
export type ExecutionState = Execution['state'];
export type ExecutionList = Schemas['ExecutionsResponse'];
export type ExecutionDetail = Schemas['ExecutionDetail'];
export type Step = Schemas['StepView'];

// --- alerts (qcl.obs: Alertmanager's alerts as the API keeps them, and its silences) ----------------------------
export type AlertRecord = Schemas['AlertRecord'];
export type AlertList = Schemas['AlertsResponse'];
export type AlertFinding = Schemas['FindingRef'];
export type AlertDelivery = Schemas['Delivery'];
export type Silence = Schemas['Silence'];
export type SilenceState = Silence['state'];
export type SilenceList = Schemas['SilencesResponse'];
export type SilenceRequest = Schemas['SilenceRequest'];
export type SilenceCreated = Schemas['SilenceCreated'];

// --- logs (qcl.obs.logindex: every process's lines; qcl.obs.patterns: their Drain templates) --------------------
export type LogEntry = Schemas['LogEntry'];
export type LogList = Schemas['LogsResponse'];
export type LogPattern = Schemas['PatternReport'];
export type LogPatternList = Schemas['PatternsResponse'];

// --- keys ---------------------------------------------------------------------------------------------------
export type WhoAmI = Schemas['WhoAmI'];
export type KeyView = Schemas['KeyView'];
export type KeyList = Schemas['KeysResponse'];
export type KeyCreated = Schemas['KeyCreated'];
export type KeyCreateRequest = Schemas['KeyCreateRequest'];
export type LoginResponse = Schemas['LoginResponse'];
export type AuditEntry = Schemas['AuditEntry'];
export type AuditList = Schemas['AuditResponse'];
export type AuditVerdict = Schemas['AuditVerifyResponse'];
export type SettingsVersion = Schemas['SettingsVersion'];
export type SettingsVersions = Schemas['SettingsVersionsResponse'];
export type SettingsDiff = Schemas['SettingsDiffResponse'];

// --- errors -------------------------------------------------------------------------------------------------
/** Every 4xx/5xx body. */
export type ErrorBody = Schemas['ErrorBody'];

// --- WebSocket /api/ws (its messages are not in the OpenAPI document; shapes from qcl/api/stream.py) ---------

/** A workflow's qcl.notify message (qcl/events.py WorkflowEvent, with its event's id and time). */
export interface WorkflowNotice {
  id: string;
  time: string;
  workflow: string;
  execution_id: string;
  revision: number;
  severity: 'info' | 'warning' | 'critical';
  message: string;
  data: unknown;
}

/** What each live message type carries. */
export interface LiveTopics {
  analysis: AnalysisReport;
  insight: Insight;
  node: NodeView;
  task: Task;
  oracle: OracleResult;
  workflow: WorkflowNotice;
}
export type LiveTopic = keyof LiveTopics;

/**
 * Server → client, JSON: `hello` first (seq = the position the stream continues from), `resync` when events were
 * missed (reload the REST views), then events in sequence order.
 */
export type LiveServerMessage =
  | { seq: number; type: 'hello'; data: { head: number } }
  | { seq: number; type: 'resync'; data: { reason: string } }
  | { seq: number; type: LiveTopic; time: string; data: unknown };
