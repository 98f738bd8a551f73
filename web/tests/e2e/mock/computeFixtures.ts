/** Shapes of /api/jobs, /api/quotas and /api/workflows answers (as qcl/api/routes_jobs.py and routes_workflows.py
 * give them), shared by the unit tests and the mocked browser tests. Times are epoch seconds, as the API sends. */
import type { ExecutionDetail, Job, QuotaReport, Step, WorkflowDetail, WorkflowList } from '../../../src/api/types';

const T0 = 1_762_934_400; // 2025-11-12 08:00:00 UTC

export function job(id: string, state: Job['state'], extra: Partial<Job> = {}): Job {
  const started = state === 'queued' ? null : T0 + 2;
  const finished = ['done', 'failed', 'cancelled', 'dead'].includes(state) ? T0 + 5 : null;
  return {
    id,
    key_id: '1f2e3d4c',
    kind: 'completion',
    payload: { prompt: `prompt of ${id}` },
    max_tokens: 32,
    temperature: 0,
    stop: [],
    priority: 'batch',
    deadline_at: null,
    max_attempts: 3,
    created_at: T0,
    batch_id: 'b1',
    state,
    attempts: state === 'queued' ? 0 : state === 'dead' ? 3 : 1,
    not_before: null,
    started_at: started,
    finished_at: finished,
    worker: started ? '//qcl/up/jobs/0' : null,
    result: state === 'done' ? { text: `answer of ${id}`, tokens: 5, finish_reason: 'stop', model: 'smollm2-135m-instruct' } : null,
    error: state === 'failed' || state === 'dead' ? { code: 'runtime_error', message: 'the model crashed' } : null,
    ...extra,
  };
}

export const JOBS: Job[] = [
  job('job-running-1', 'running', { priority: 'interactive' }),
  job('job-queued-1', 'queued'),
  job('job-done-1', 'done'),
  job('job-dead-1', 'dead', { priority: 'background' }),
];

export function quotas(extra: Partial<QuotaReport> = {}): QuotaReport {
  return {
    keys: [
      {
        key_id: '1f2e3d4c',
        quota: { tokens_per_minute: 200000, daily_tokens: 20000000, max_running: 8, max_queued: 20000, weight: 1 },
        queued: 1,
        running: 1,
        tokens_today: 15000000,
      },
    ],
    queue: { interactive: 2, standard: 0, batch: 5, background: 1, running: 3, retrying: 1 },
    forecast: { queued: 8, arrival_rate: 0.5, service_rate: 0.1, predicted_queue: 10, horizon_s: 60, predicted_wait_s: 80 },
    ...extra,
  };
}

export const WORKFLOWS: WorkflowList = {
  workflows: [
    { name: 'epoch-report', revision: 2, revision_id: '000002-c8379c63', triggers: [{ kind: 'schedule' }] },
    { name: 'question-batch', revision: 1, revision_id: '000001-54c6896b', triggers: [] },
  ],
};

export const WORKFLOW_DETAIL: WorkflowDetail = {
  latest: {
    workflow: 'epoch-report',
    revision: 2,
    revision_id: '000002-c8379c63',
    digest: 'c8379c63',
    source: 'main: {}',
    triggers: [],
    created_at: T0,
    created: null,
  },
  revisions: [1, 2],
};

function step(name: string, outcome: Step['outcome'], at: number, extra: Partial<Step> = {}): Step {
  return { path: `main.${name}`, step: name, kind: 'call', started_at: T0 + at, ended_at: T0 + at + 0.25, outcome, next: null, result: null, error: null, variables: {}, ...extra };
}

export function execution(state: ExecutionDetail['state'], id = 'exec-1'): ExecutionDetail {
  const steps: Step[] = [step('init', 'next', 0, { kind: 'assign' }), step('analyse', 'next', 1, { result: { health_score: 100 } })];
  if (state === 'failed') steps.push(step('narrate', 'error', 2, { error: { message: 'model busy', tags: ['RuntimeError'] } }));
  if (state === 'succeeded') steps.push(step('done', 'return', 2, { result: { status: 'healthy' } }));
  return {
    id,
    workflow: 'epoch-report',
    revision: 2,
    revision_id: '000002-c8379c63',
    state,
    trigger: 'manual',
    argument: { epoch: 186 },
    result: state === 'succeeded' ? { status: 'healthy' } : null,
    error: state === 'failed' ? { message: 'model busy' } : state === 'cancelled' ? { message: 'cancelled' } : null,
    created_at: T0,
    started_at: T0,
    ended_at: state === 'running' || state === 'queued' ? null : T0 + 3,
    steps_done: steps.length,
    steps,
  };
}

export function executionSummary(detail: ExecutionDetail) {
  const { steps: _steps, ...summary } = detail;
  return summary;
}
