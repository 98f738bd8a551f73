/**
 * A stand-in for the HTTP API inside the browser (Playwright routes /api/** and the /api/ws WebSocket), so the
 * dashboard's own behaviour is tested without the Python stack: rendering, errors, reconnect and resume, CSP, a11y.
 * The suite against the real `qcl up` lives in tests/e2e/live/.
 */
import type { Page, Route, WebSocketRoute } from '@playwright/test';
import type { ExecutionDetail, Job } from '../../../src/api/types';
import { execution, executionSummary, JOBS, quotas, WORKFLOW_DETAIL, WORKFLOWS } from './computeFixtures';
import { ATTESTATION, answer, history, latest, NARRATIVE, NODES, oracleTask, TOPOLOGY } from './fixtures';

export interface MockOptions {
  historyHours?: number;
  admin?: boolean; // the key in use is an admin's
  operator?: boolean; // the key in use is an operator's (else a viewer's, unless admin)
  /** Answer every REST call with this status and the API's error body. */
  failWith?: { status: number; code: string; message: string; field?: string };
}

export interface MockApi {
  /** Each WebSocket connection's `last_seq` (null: a fresh client). */
  connections: (number | null)[];
  questions: { question: string; language?: string }[];
  /** Send an event of `type` (analysis, insight, node, task, oracle) to every open socket, numbered next. */
  push(type: string, data: unknown): void;
  /** Drop every open socket (as a restarting server would). */
  dropAll(): void;
  /** Refuse new sockets (close at once) until allowed again. */
  refuse(on: boolean): void;
  /** Refuse the key of new sockets as the server does (handshake, then close 4401 with the reason); null: accept. */
  refuseKey(code: 4401 | 4403 | null): void;
  /** Oracle tasks submitted (POST /api/tasks with kind oracle). */
  oracleTasks: unknown[];
  /** The jobs GET /api/jobs lists (newest first); tests change their states. POST /api/jobs adds queued ones. */
  jobs: Job[];
  /** Bodies of POST /api/jobs; `refuseJobs` answers the next ones 429 with this Retry-After. */
  submissions: unknown[];
  refuseJobs: number | null;
  /** epoch-report's executions by id (newest first in the list); POST …/executions adds a running one. */
  executions: ExecutionDetail[];
  runs: unknown[];
}

const json = (route: Route, status: number, body: unknown) =>
  route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });

export async function installMockApi(page: Page, options: MockOptions = {}): Promise<MockApi> {
  const sockets = new Set<WebSocketRoute>();
  let seq = 100;
  let refusing = false;
  let refusedKey: 4401 | 4403 | null = null;
  const status = options.failWith?.status;
  if (status === 401 || status === 403) refusedKey = status === 401 ? 4401 : 4403; // as qcl/api/routes_ops.py
  const mock: MockApi = {
    connections: [],
    questions: [],
    oracleTasks: [],
    jobs: JOBS.map((item) => ({ ...item })),
    submissions: [],
    refuseJobs: null,
    executions: [execution('succeeded', 'exec-1')],
    runs: [],
    push(type, data) {
      seq += 1;
      const message = JSON.stringify({ seq, type, time: new Date().toISOString(), data });
      sockets.forEach((socket) => socket.send(message));
    },
    dropAll() {
      sockets.forEach((socket) => void socket.close({ code: 1012, reason: 'restart' }));
      sockets.clear();
    },
    refuse(on) {
      refusing = on;
    },
    refuseKey(code) {
      refusedKey = code;
    },
  };

  await page.routeWebSocket(/\/api\/ws(\?|$)/, (socket) => {
    if (refusing) {
      void socket.close({ code: 1013, reason: 'try later' });
      return;
    }
    // As qcl/api/routes_ops.py: a refused key gets the handshake, then close 4401 / 4403 with the reason; else
    // resume after ?last_seq=N, then `hello` with the position the stream continues from.
    if (refusedKey !== null) {
      mock.connections.push(-1);
      const reason = refusedKey === 4401 ? 'the API key is unknown or revoked' : 'this needs the viewer role';
      void socket.close({ code: refusedKey, reason });
      return;
    }
    const given = new URL(socket.url()).searchParams.get('last_seq');
    const last = given === null ? null : Number(given);
    mock.connections.push(last);
    sockets.add(socket);
    socket.onClose(() => sockets.delete(socket));
    socket.send(JSON.stringify({ seq: last ?? seq, type: 'hello', data: { head: seq } }));
  });

  await page.route('**/api/**', async (route) => {
    const url = new URL(route.request().url());
    if (options.failWith) {
      const { status, code, message, field } = options.failWith;
      return json(route, status, { error: { code, message, field, request_id: 'req-test-1' } });
    }
    switch (url.pathname) {
      case '/api/network/latest':
        return json(route, 200, latest());
      case '/api/network/history':
        return json(route, 200, { reports: history(options.historyHours ?? 2) });
      case '/api/insights':
        return json(route, 200, { insights: [NARRATIVE] });
      case '/api/ai/question': {
        const body = route.request().postDataJSON() as { question: string; language?: 'zh-TW' | 'en' };
        mock.questions.push(body);
        return json(route, 200, answer(body.question, body.language ?? 'zh-TW'));
      }
      case '/api/auth/whoami':
        return json(route, 200, { key_id: '1f2e3d4c', role: options.admin ? 'admin' : options.operator ? 'operator' : 'viewer' });
      case '/api/quotas':
        return json(route, 200, quotas());
      case '/api/jobs': {
        if (route.request().method() === 'POST') {
          const body = route.request().postDataJSON() as { prompts?: string[]; prompt?: string; priority: Job['priority'] };
          mock.submissions.push(body);
          if (mock.refuseJobs !== null) {
            return route.fulfill({
              status: 429,
              contentType: 'application/json',
              headers: { 'Retry-After': String(mock.refuseJobs) },
              body: JSON.stringify({ error: { code: 'quota_daily', message: 'past the daily budget', request_id: 'req-429' } }),
            });
          }
          const prompts = body.prompts ?? [body.prompt ?? ''];
          const added = prompts.map((prompt, index) => ({
            ...JOBS[1]!,
            id: `job-new-${mock.submissions.length}-${index}`,
            payload: { prompt },
            priority: body.priority,
          }));
          mock.jobs.unshift(...added);
          return json(route, 202, { jobs: added.map((item) => item.id), batch_id: 'batch-new' });
        }
        const state = url.searchParams.get('state');
        return json(route, 200, { jobs: mock.jobs.filter((item) => !state || item.state === state) });
      }
      case '/api/workflows':
        return json(route, 200, WORKFLOWS);
      case '/api/workflows/epoch-report':
        return json(route, 200, WORKFLOW_DETAIL);
      case '/api/workflows/epoch-report/executions': {
        if (route.request().method() === 'POST') {
          mock.runs.push(route.request().postDataJSON());
          const started = { ...execution('running', `exec-run-${mock.runs.length}`), steps: [], steps_done: 0 };
          mock.executions.unshift(started);
          return json(route, 202, executionSummary(started));
        }
        return json(route, 200, { executions: mock.executions.map(executionSummary) });
      }
      case '/api/workflows/question-batch/executions':
        return json(route, 200, { executions: [] });
      case '/api/workflows/question-batch':
        return json(route, 200, { ...WORKFLOW_DETAIL, latest: { ...WORKFLOW_DETAIL.latest, workflow: 'question-batch' }, revisions: [1] });
      case '/api/tasks': {
        const body = route.request().postDataJSON() as { kind: string };
        if (body.kind !== 'oracle') break;
        mock.oracleTasks.push(body);
        return json(route, 202, oracleTask('queued'));
      }
      case `/api/tasks/${oracleTask().id}`:
        return json(route, 200, oracleTask('running'));
      case '/api/nodes':
        return json(route, 200, { nodes: NODES });
      case '/api/topology':
        return json(route, 200, TOPOLOGY);
      case '/api/oracle/results':
        return json(route, 200, { results: [ATTESTATION] });
    }
    const cancelJob = /^\/api\/jobs\/([\w-]+)\/cancel$/.exec(url.pathname);
    const found = cancelJob && mock.jobs.find((item) => item.id === cancelJob[1]);
    if (found) {
      found.state = 'cancelled';
      found.error = { code: 'cancelled', message: 'cancelled by the key' };
      return json(route, 200, found);
    }
    const executionPath = /^\/api\/workflows\/executions\/([\w-]+)(\/cancel)?$/.exec(url.pathname);
    const run = executionPath && mock.executions.find((item) => item.id === executionPath[1]);
    if (run) {
      if (executionPath[2]) {
        run.state = 'cancelled';
        run.error = { message: 'cancelled' };
        return json(route, 202, executionSummary(run));
      }
      return json(route, 200, run);
    }
    return json(route, 404, { error: { code: 'not_found', message: `no route ${url.pathname}`, request_id: 'req-404' } });
  });
  return mock;
}
