/**
 * A stand-in for the HTTP API inside the browser (Playwright routes /api/** and the /api/ws WebSocket), so the
 * dashboard's own behaviour is tested without the Python stack: rendering, errors, reconnect and resume, CSP, a11y.
 * The suite against the real `qcl up` lives in tests/e2e/live/.
 */
import type { Page, Route, WebSocketRoute } from '@playwright/test';
import type { AlertRecord, ExecutionDetail, Job, Silence, SilenceRequest } from '../../../src/api/types';
import { alertList, RULES, SILENCE_ACTIVE, SILENCE_EXPIRED } from './alertFixtures';
import { logList, patternList } from './logFixtures';
import { execution, executionSummary, JOBS, quotas, WORKFLOW_DETAIL, WORKFLOWS } from './computeFixtures';
import { ATTESTATION, answer, history, KEYS, latest, NARRATIVE, NODES, oracleTask, TOPOLOGY } from './fixtures';

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
  /** GET /api/ops/alerts' active alerts (its history lists them too); tests change them. */
  alerts: AlertRecord[];
  /** Alertmanager's silences; null: no Alertmanager (the silences routes answer 503 alerting_unavailable). */
  silences: Silence[] | null;
  /** Bodies of POST /api/ops/silences (a rule not in alertFixtures' RULES is refused 422 unknown_rule). */
  silenceRequests: SilenceRequest[];
}

const json = (route: Route, status: number, body: unknown) =>
  route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });

const alertingUnavailable = (route: Route) =>
  json(route, 503, {
    error: { code: 'alerting_unavailable', message: 'no Alertmanager is configured (QCL_ALERTMANAGER_URL, QCL_PROMETHEUS_URL)', request_id: 'req-503' },
  });

function auditEntries() {
  const entry = (seq: number, action: string, target: string) => ({
    seq,
    at: `2026-12-05T08:0${seq}:00+00:00`,
    action,
    actor: seq === 1 ? 'qcl up' : 'key:session:3259d742',
    target,
    outcome: 'ok',
    prev: seq === 1 ? '0'.repeat(64) : 'a'.repeat(64),
    hash: (seq === 1 ? 'a' : 'b').repeat(64),
  });
  return [entry(1, 'api_key.created', 'c43467cf'), entry(2, 'settings.changed', 'v1')];
}

function settingsVersions() {
  const values = { rate_limit_key_per_s: 20, rate_limit_key_burst: 60, rate_limit_ip_per_s: 50, rate_limit_ip_burst: 100, log_level: 'INFO' };
  return [
    { version: 0, at: '2026-12-05T08:00:00Z', by: 'settings at start', values, changed: [], rolled_back_to: null },
    {
      version: 1,
      at: '2026-12-05T08:05:00Z',
      by: 'key:session:3259d742',
      values: { ...values, rate_limit_key_burst: 120 },
      changed: ['rate_limit_key_burst'],
      rolled_back_to: null,
    },
  ];
}

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
    alerts: alertList().active,
    silences: [SILENCE_ACTIVE, SILENCE_EXPIRED].map((item) => ({ ...item })),
    silenceRequests: [],
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
      case '/api/admin/audit':
        return json(route, 200, { entries: auditEntries() });
      case '/api/admin/audit/verify':
        return json(route, 200, { ok: true, entries: 2, broken_seq: null, reason: null, head_hash: 'b'.repeat(64) });
      case '/api/admin/settings/versions':
        return json(route, 200, { current: 1, versions: settingsVersions() });
      case '/api/admin/settings/diff':
        return json(route, 200, {
          from_version: 0,
          to_version: 1,
          changes: [{ setting: 'rate_limit_key_burst', before: 60, after: 120 }],
        });
      case '/api/auth/whoami':
        return json(route, 200, { key_id: '1f2e3d4c', role: options.admin ? 'admin' : options.operator ? 'operator' : 'viewer' });
      case '/api/admin/keys':
        return json(route, 200, { keys: KEYS });
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
      case '/api/ops/alerts':
        return json(route, 200, alertList(mock.alerts));
      case '/api/ops/logs':
        return json(route, 200, logList());
      case '/api/ops/logs/patterns':
        return json(route, 200, patternList());
      case '/api/ops/silences': {
        if (mock.silences === null) return alertingUnavailable(route);
        if (route.request().method() !== 'POST') return json(route, 200, { silences: mock.silences });
        const body = route.request().postDataJSON() as SilenceRequest;
        mock.silenceRequests.push(body);
        if (!RULES.includes(body.alertname)) {
          const message = `no alert rule '${body.alertname}'; rules: ${RULES.join(', ')}`;
          return json(route, 422, { error: { code: 'unknown_rule', message, request_id: 'req-422' } });
        }
        const id = `a11ce000-0000-4000-8000-${String(mock.silenceRequests.length).padStart(12, '0')}`;
        const now = Date.now();
        mock.silences.unshift({
          id,
          alertname: body.alertname,
          matchers: { alertname: body.alertname, ...body.matchers },
          state: 'active',
          starts_at: new Date(now).toISOString(),
          ends_at: new Date(now + body.duration_s * 1000).toISOString(),
          created_by: 'key:1f2e3d4c',
          comment: body.comment,
        });
        return json(route, 201, { id });
      }
    }
    const silencePath = /^\/api\/ops\/silences\/([\w-]+)$/.exec(url.pathname);
    if (silencePath && route.request().method() === 'DELETE') {
      if (mock.silences === null) return alertingUnavailable(route);
      const silence = mock.silences.find((item) => item.id === silencePath[1]);
      if (silence) {
        silence.state = 'expired';
        return json(route, 200, { id: silence.id });
      }
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
