/** One typed function per API endpoint (issue 6's list); pages call these, never `request` with a bare path. */
import { request } from './client';
import type {
  AIStatus,
  AnalysisReport,
  AttestationList,
  AttestationRecord,
  InsightList,
  InsightRecord,
  Language,
  NetworkHistory,
  NodeList,
  QuestionRequest,
  Task,
  TaskRequest,
  Topology,
  WhoAmI,
} from './types';

type Signal = { signal?: AbortSignal };

export const api = {
  latestAnalysis: ({ signal }: Signal = {}) => request<AnalysisReport>('GET', '/api/network/latest', { signal }),

  history: (from: Date, to: Date, { signal }: Signal = {}) =>
    request<NetworkHistory>('GET', '/api/network/history', {
      query: { from: from.toISOString(), to: to.toISOString() },
      signal,
    }),

  insights: (limit: number, { signal }: Signal = {}) =>
    request<InsightList>('GET', '/api/insights', { query: { limit }, signal }),

  ask: (body: QuestionRequest, { signal }: Signal = {}) =>
    request<InsightRecord>('POST', '/api/ai/question', { body, signal }),

  analyze: (language: Language, { signal }: Signal = {}) =>
    request<{ report: AnalysisReport; insight: InsightRecord }>('POST', '/api/ai/analyze', {
      body: { window: 'latest', language },
      signal,
    }),

  status: ({ signal }: Signal = {}) => request<AIStatus>('GET', '/api/ai/status', { signal }),

  whoami: ({ signal }: Signal = {}) => request<WhoAmI>('GET', '/api/auth/whoami', { signal }),

  nodes: ({ signal }: Signal = {}) => request<NodeList>('GET', '/api/nodes', { signal }),

  topology: ({ signal }: Signal = {}) => request<Topology>('GET', '/api/topology', { signal }),

  submitTask: (body: TaskRequest, { signal }: Signal = {}) => request<Task>('POST', '/api/tasks', { body, signal }),

  task: (id: string, { signal }: Signal = {}) =>
    request<Task>('GET', `/api/tasks/${encodeURIComponent(id)}`, { signal }),

  attestations: ({ signal }: Signal = {}) => request<AttestationList>('GET', '/api/oracle/results', { signal }),

  attestation: (id: string, { signal }: Signal = {}) =>
    request<AttestationRecord>('GET', `/api/oracle/results/${encodeURIComponent(id)}`, { signal }),
};

export type Api = typeof api;
