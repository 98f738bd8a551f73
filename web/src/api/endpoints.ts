/** One typed function per API endpoint the dashboard uses; pages call these, never `request` with a bare path. */
import { ApiError, jsonBody, request, requestStream } from './client';
import { readSse, type SseEvent } from '../lib/sse';
import type {
  AIInsight,
  AlertList,
  AuditList,
  AuditVerdict,
  LoginResponse,
  SettingsDiff,
  SettingsVersion,
  SettingsVersions,
  LogList,
  LogPatternList,
  SilenceCreated,
  SilenceList,
  SilenceRequest,
  AnswerStreamEvent,
  Execution,
  ExecutionDetail,
  ExecutionList,
  Job,
  JobList,
  JobRequest,
  JobsAccepted,
  JobState,
  KeyCreated,
  KeyCreateRequest,
  KeyList,
  KeyView,
  NodeAction,
  NodeActionResult,
  QuotaReport,
  WorkflowDetail,
  WorkflowList,
  AttestationList,
  AnalysisReport,
  InsightList,
  NetworkHistory,
  NodeList,
  OracleResult,
  QuestionRequest,
  Task,
  TaskRequest,
  Topology,
  WhoAmI,
} from './types';

type Signal = { signal?: AbortSignal };

export const HISTORY_MAX = 2880; // the API's limit: a day of observations 30 s apart
export const INSIGHTS_MAX = 200;
export const ALERTS_MAX = 200; // /api/ops/alerts' limit

export const api = {
  latestAnalysis: ({ signal }: Signal = {}) => request<AnalysisReport>('GET', '/api/network/latest', { signal }),

  history: (from: Date, to: Date, { signal }: Signal = {}) =>
    request<NetworkHistory>('GET', '/api/network/history', {
      query: { from: from.toISOString(), to: to.toISOString(), limit: HISTORY_MAX },
      signal,
    }),

  insights: (limit: number, { signal }: Signal = {}) =>
    request<InsightList>('GET', '/api/insights', { query: { limit: Math.min(limit, INSIGHTS_MAX) }, signal }),

  ask: (body: QuestionRequest, { signal }: Signal = {}) =>
    request<AIInsight>('POST', '/api/ai/question', { body, signal }),

  /**
   * The same question as a stream of AnswerStreamEvents (see types.ts). A server that answers JSON instead gives
   * one `final`. A body that ends without `final`, or an event that is not the JSON it should be, throws a
   * `bad_response` ApiError (the caller may then ask for the JSON answer).
   */
  askStream: async function* (body: QuestionRequest, { signal }: Signal = {}): AsyncGenerator<AnswerStreamEvent> {
    const response = await requestStream('POST', '/api/ai/question', { body, signal });
    if (!(response.headers.get('Content-Type') ?? '').startsWith('text/event-stream') || !response.body) {
      yield { type: 'final', insight: (await jsonBody(response)) as AIInsight };
      return;
    }
    const events = readSse(response.body, signal);
    for (;;) {
      let next: IteratorResult<SseEvent>;
      try {
        next = await events.next();
      } catch (error) {
        // the body broke off (connection lost mid-stream): a network failure, like one before the response
        if (error instanceof ApiError || (error instanceof DOMException && error.name === 'AbortError')) throw error;
        throw new ApiError({ kind: 'network', message: error instanceof Error ? error.message : String(error) });
      }
      if (next.done) break;
      const parsed = answerStreamEvent(next.value);
      if (!parsed) continue;
      yield parsed;
      if (parsed.type === 'final') {
        await events.return(undefined); // release the body
        return;
      }
    }
    if (!signal?.aborted) throw new ApiError({ kind: 'bad_response', message: 'the answer stream ended without a final answer' });
  },

  nodes: ({ signal }: Signal = {}) => request<NodeList>('GET', '/api/nodes', { signal }),

  topology: ({ signal }: Signal = {}) => request<Topology>('GET', '/api/topology', { signal }),

  submitTask: (body: TaskRequest, { signal }: Signal = {}) => request<Task>('POST', '/api/tasks', { body, signal }),

  task: (id: string, { signal }: Signal = {}) =>
    request<Task>('GET', `/api/tasks/${encodeURIComponent(id)}`, { signal }),

  attestations: ({ signal }: Signal = {}) => request<AttestationList>('GET', '/api/oracle/results', { signal }),

  attestation: (jobId: string, { signal }: Signal = {}) =>
    request<OracleResult>('GET', `/api/oracle/results/${encodeURIComponent(jobId)}`, { signal }),

  jobs: (state: JobState | null, limit: number, { signal }: Signal = {}) =>
    request<JobList>('GET', '/api/jobs', { query: state ? { state, limit } : { limit }, signal }),

  job: (id: string, { signal }: Signal = {}) => request<Job>('GET', `/api/jobs/${encodeURIComponent(id)}`, { signal }),

  submitJobs: (body: JobRequest, { signal }: Signal = {}) =>
    request<JobsAccepted>('POST', '/api/jobs', { body, signal }),

  cancelJob: (id: string, { signal }: Signal = {}) =>
    request<Job>('POST', `/api/jobs/${encodeURIComponent(id)}/cancel`, { signal }),

  quotas: ({ signal }: Signal = {}) => request<QuotaReport>('GET', '/api/quotas', { signal }),

  workflows: ({ signal }: Signal = {}) => request<WorkflowList>('GET', '/api/workflows', { signal }),

  workflow: (name: string, { signal }: Signal = {}) =>
    request<WorkflowDetail>('GET', `/api/workflows/${encodeURIComponent(name)}`, { signal }),

  executions: (name: string, { signal }: Signal = {}) =>
    request<ExecutionList>('GET', `/api/workflows/${encodeURIComponent(name)}/executions`, { signal }),

  execution: (id: string, { signal }: Signal = {}) =>
    request<ExecutionDetail>('GET', `/api/workflows/executions/${encodeURIComponent(id)}`, { signal }),

  runWorkflow: (name: string, argument: unknown, { signal }: Signal = {}) =>
    request<Execution>('POST', `/api/workflows/${encodeURIComponent(name)}/executions`, {
      body: { argument, wait_s: 0 },
      signal,
    }),

  cancelExecution: (id: string, { signal }: Signal = {}) =>
    request<Execution>('POST', `/api/workflows/executions/${encodeURIComponent(id)}/cancel`, { signal }),

  /** Active alerts and the newest `limit` state changes (viewer). */
  alerts: (limit: number, { signal }: Signal = {}) =>
    request<AlertList>('GET', '/api/ops/alerts', { query: { limit: Math.min(limit, ALERTS_MAX) }, signal }),

  /** Alertmanager's silences; 503 `alerting_unavailable` where no Alertmanager is configured. */
  silences: ({ signal }: Signal = {}) => request<SilenceList>('GET', '/api/ops/silences', { signal }),

  /** Silence a rule for a while (operator); 422 `unknown_rule` names the rules there are. */
  createSilence: (body: SilenceRequest, { signal }: Signal = {}) =>
    request<SilenceCreated>('POST', '/api/ops/silences', { body, signal }),

  expireSilence: (id: string, { signal }: Signal = {}) =>
    request<SilenceCreated>('DELETE', `/api/ops/silences/${encodeURIComponent(id)}`, { signal }),

  /** Log lines of every process, newest first (operator); 400 `invalid_log_query` names the field it cannot read. */
  logs: (query: Record<string, string | number>, { signal }: Signal = {}) =>
    request<LogList>('GET', '/api/ops/logs', { query, signal }),

  /** Drain's templates of the recent lines, new and bursting first (operator). */
  logPatterns: ({ signal }: Signal = {}) => request<LogPatternList>('GET', '/api/ops/logs/patterns', { signal }),

  /** The key in use: its id and role (what the dashboard may offer, e.g. editing raw JSON as an admin). */
  whoami: ({ signal }: Signal = {}) => request<WhoAmI>('GET', '/api/auth/whoami', { signal }),

  // --- admin: keys and node actions (admin role) ---
  keys: ({ signal }: Signal = {}) => request<KeyList>('GET', '/api/admin/keys', { signal }),

  createKey: (body: KeyCreateRequest) => request<KeyCreated>('POST', '/api/admin/keys', { body }),

  revokeKey: (keyId: string) => request<KeyView>('DELETE', `/api/admin/keys/${encodeURIComponent(keyId)}`),

  nodeAction: (nodeId: string, action: NodeAction) =>
    request<NodeActionResult>('POST', `/api/admin/nodes/${encodeURIComponent(nodeId)}/${action}`),
  /** Exchange the one-time token of `qcl up`'s login URL for the session cookie; 401 `login_used` / `login_expired`. */
  login: (token: string) => request<LoginResponse>('POST', '/api/auth/login', { body: { token }, apiKey: null }),

  logout: () => request<{ signed_out: boolean }>('POST', '/api/auth/logout', { apiKey: null }),

  audit: (filter: { actor?: string; action?: string; since?: string }, { signal }: Signal = {}) =>
    request<AuditList>('GET', '/api/admin/audit', { query: { ...filter }, signal }),

  verifyAudit: ({ signal }: Signal = {}) => request<AuditVerdict>('GET', '/api/admin/audit/verify', { signal }),

  settingsVersions: ({ signal }: Signal = {}) =>
    request<SettingsVersions>('GET', '/api/admin/settings/versions', { signal }),

  /** A new version with these values; 400 `invalid_setting` names the setting (`field`). */
  changeSettings: (values: Record<string, unknown>) =>
    request<SettingsVersion>('POST', '/api/admin/settings/versions', { body: { values } }),

  settingsDiff: (from: number, to: number, { signal }: Signal = {}) =>
    request<SettingsDiff>('GET', '/api/admin/settings/diff', { query: { from, to }, signal }),

  rollbackSettings: (version: number) =>
    request<SettingsVersion>('POST', `/api/admin/settings/versions/${version}/rollback`),
};

export type Api = typeof api;

/** One SSE frame of the answer stream as its typed event; null for an event name this client does not know. */
export function answerStreamEvent(event: SseEvent): AnswerStreamEvent | null {
  if (event.event !== 'answer' && event.event !== 'delta' && event.event !== 'final') return null;
  let data: unknown;
  try {
    data = JSON.parse(event.data);
  } catch {
    throw new ApiError({ kind: 'bad_response', message: `${event.event}: not JSON: ${event.data.slice(0, 200)}` });
  }
  if (typeof data !== 'object' || data === null) {
    throw new ApiError({ kind: 'bad_response', message: `${event.event}: not an object` });
  }
  if (event.event === 'delta') {
    const text = (data as { text?: unknown }).text;
    if (typeof text !== 'string') throw new ApiError({ kind: 'bad_response', message: 'delta: no text' });
    return { type: 'delta', text };
  }
  if (typeof (data as { text?: unknown }).text !== 'string') {
    throw new ApiError({ kind: 'bad_response', message: `${event.event}: not an insight` });
  }
  return { type: event.event, insight: data as AIInsight };
}
