/** One typed function per API endpoint the dashboard uses; pages call these, never `request` with a bare path. */
import { ApiError, jsonBody, request, requestStream } from './client';
import { readSse, type SseEvent } from '../lib/sse';
import type {
  AIInsight,
  AnswerStreamEvent,
  Execution,
  ExecutionDetail,
  ExecutionList,
  Job,
  JobList,
  JobRequest,
  JobsAccepted,
  JobState,
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

  /** The key in use: its id and role (what the dashboard may offer, e.g. editing raw JSON as an admin). */
  whoami: ({ signal }: Signal = {}) => request<WhoAmI>('GET', '/api/auth/whoami', { signal }),
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
