/** @vitest-environment jsdom */
/** The Workflows page against a stubbed API: workflows and revisions, executions, an execution's step timeline
 * (results and errors), running with a JSON argument, cancelling, roles. Monaco is replaced by a textarea here
 * (it does not run in jsdom); the browser tests use the real editor. */
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ExecutionDetail } from '../../src/api/types';
import { Workflows } from '../../src/pages/Workflows';
import { forgetRoles } from '../../src/state/admin';
import { execution, executionSummary, WORKFLOW_DETAIL, WORKFLOWS } from '../e2e/mock/computeFixtures';
import { fakeConnection, renderWithApp, stubApi, type Routes } from './render';

vi.mock('../../src/ui/JsonEditor', () => ({
  default: ({ value, label, onChange }: { value: string; label: string; onChange?: (value: string) => void }) => (
    <textarea aria-label={label} value={value} onChange={(event) => onChange?.(event.target.value)} />
  ),
}));

function start(executions: ExecutionDetail[], role: 'viewer' | 'operator' = 'operator', extra: Routes = {}) {
  localStorage.setItem('qcl.apiKey', 'k');
  const routes: Routes = {
    '/api/auth/whoami': () => ({ body: { key_id: '1f2e3d4c', role } }),
    '/api/workflows': () => ({ body: WORKFLOWS }),
    '/api/workflows/epoch-report': () => ({ body: WORKFLOW_DETAIL }),
    '/api/workflows/epoch-report/executions': (init) =>
      init.method === 'POST'
        ? { status: 202, body: executionSummary(execution('running', 'exec-new')) }
        : { body: { executions: executions.map(executionSummary) } },
    '/api/workflows/executions/exec-new': () => ({ body: execution('running', 'exec-new') }),
    ...Object.fromEntries(executions.map((item) => [`/api/workflows/executions/${item.id}`, () => ({ body: item })])),
    ...extra,
  };
  const fetch = stubApi(routes);
  const live = fakeConnection();
  renderWithApp(<Workflows />, live.connection);
  return Object.assign(fetch, { sockets: live.sockets });
}

const posts = (fetch: ReturnType<typeof stubApi>, path: string) =>
  fetch.mock.calls.filter(([input, init]) => new URL(String(input)).pathname === path && init?.method === 'POST');

beforeEach(() => forgetRoles());
afterEach(() => vi.unstubAllGlobals());

describe('workflows page', () => {
  it('lists the deployed workflows and the first one’s revisions and executions', async () => {
    start([execution('succeeded'), execution('failed', 'exec-2')]);
    const table = await screen.findByTestId('workflows');
    expect(within(table).getByText('epoch-report')).toBeInTheDocument();
    expect(within(table).getByText('000001-54c6896b')).toBeInTheDocument();
    expect(await screen.findByTestId('revisions')).toHaveTextContent('修訂版：1, 2（最新 000002-c8379c63');
    const executions = await screen.findByTestId('executions');
    expect(within(executions).getAllByTestId('execution-state').map((chip) => chip.textContent)).toEqual(['成功', '失敗']);
  });

  it('shows an execution’s steps in order with each result, and the failing step’s error', async () => {
    start([execution('failed')]);
    fireEvent.click(await screen.findByRole('button', { name: '查看執行 exec-1' }));
    const steps = await screen.findAllByTestId('step');
    expect(steps.map((item) => item.getAttribute('data-step'))).toEqual(['init', 'analyse', 'narrate']);
    expect(within(steps[1]!).getByTestId('step-result')).toHaveTextContent('"health_score": 100');
    expect(steps[2]).toHaveAttribute('data-outcome', 'error');
    expect(within(steps[2]!).getByTestId('step-error')).toHaveTextContent('model busy');
    expect(screen.getByTestId('execution-error')).toHaveTextContent('model busy');
  });

  it('runs the chosen workflow with the JSON argument and follows the new execution', async () => {
    const fetch = start([]);
    expect(await screen.findByText('還沒有執行紀錄')).toBeInTheDocument();
    fireEvent.change(await screen.findByRole('textbox', { name: 'epoch-report 的輸入（JSON）' }), { target: { value: '{"epoch": 190}' } });
    fireEvent.click(screen.getByRole('button', { name: '執行 epoch-report' }));
    await waitFor(() => expect(posts(fetch, '/api/workflows/epoch-report/executions')).toHaveLength(1));
    const init = posts(fetch, '/api/workflows/epoch-report/executions')[0]![1];
    expect(JSON.parse(String(init!.body))).toEqual({ argument: { epoch: 190 }, wait_s: 0 });
    expect(await screen.findByTestId('execution')).toHaveAttribute('data-execution', 'exec-new');
  });

  it('keeps the run button off while the argument is not JSON, saying why', async () => {
    start([]);
    fireEvent.change(await screen.findByRole('textbox', { name: 'epoch-report 的輸入（JSON）' }), { target: { value: '{"epoch": ' } });
    expect(screen.getByTestId('argument-invalid')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: '執行 epoch-report' })).toBeDisabled();
  });

  it('cancels a running execution', async () => {
    const fetch = start([execution('running')], 'operator', {
      '/api/workflows/executions/exec-1/cancel': () => ({ status: 202, body: executionSummary(execution('cancelled')) }),
    });
    fireEvent.click(await screen.findByRole('button', { name: '查看執行 exec-1' }));
    fireEvent.click(await screen.findByTestId('cancel-execution'));
    await waitFor(() => expect(posts(fetch, '/api/workflows/executions/exec-1/cancel')).toHaveLength(1));
  });

  it('lets a viewer see executions but not run or cancel them', async () => {
    start([execution('running')], 'viewer');
    expect(await screen.findByTestId('viewer-note')).toBeInTheDocument();
    fireEvent.click(await screen.findByRole('button', { name: '查看執行 exec-1' }));
    expect(await screen.findByTestId('execution')).toBeInTheDocument();
    expect(screen.queryByTestId('cancel-execution')).not.toBeInTheDocument();
    expect(screen.queryByTestId('run-form')).not.toBeInTheDocument();
  });

  it('refreshes the executions when one of the workflow’s notify messages comes over the live channel', async () => {
    const fetch = start([execution('succeeded')]); // nothing running: the next poll is 15 s away
    await screen.findByTestId('executions');
    const listed = () =>
      fetch.mock.calls.filter(([input]) => new URL(String(input)).pathname === '/api/workflows/epoch-report/executions').length;
    const before = listed();
    const notice = { id: 'e1', time: '', workflow: 'epoch-report', execution_id: 'exec-1', revision: 2, severity: 'info', message: 'done', data: null };
    act(() => {
      fetch.sockets[0]!.onopen?.({});
      fetch.sockets[0]!.onmessage?.({ data: JSON.stringify({ seq: 1, type: 'workflow', time: '', data: notice }) });
    });
    await waitFor(() => expect(listed()).toBe(before + 1));
  });

  it('says so when no workflow is deployed', async () => {
    start([], 'operator', { '/api/workflows': () => ({ body: { workflows: [] } }) });
    expect(await screen.findByText('尚未部署工作流程')).toBeInTheDocument();
  });
});
