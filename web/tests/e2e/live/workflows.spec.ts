/** The Workflows page against the real `qcl up` (template narration): run the bundled epoch-report with the default
 * argument from the page, follow the execution to succeeded and see its steps, each with its result. */
import { cspViolations, seriousAxeViolations, shot } from '../helpers';
import { expect, openDashboard, test } from './fixture';

test('runs the epoch-report workflow and shows its steps', async ({ page, qcl }) => {
  await openDashboard(page, qcl, '/#/workflows');
  await page.getByTestId('workflows').getByRole('button', { name: 'epoch-report' }).click();
  await expect(page.getByTestId('revisions')).toContainText('000001-');
  await expect(page.getByTestId('run-argument').locator('.view-lines')).toHaveText('{}');
  await page.getByRole('button', { name: '執行 epoch-report' }).click();
  const execution = page.getByTestId('execution');
  await expect(execution.getByTestId('execution-state')).toHaveText('成功', { timeout: 60_000 });
  const steps = execution.getByTestId('step');
  await expect(steps.filter({ has: page.getByText('analyse', { exact: true }) })).toHaveCount(1);
  expect(await steps.count()).toBeGreaterThanOrEqual(3);
  await expect(execution.getByTestId('execution-result')).toContainText('health_score');
  const id = await execution.getAttribute('data-execution');
  const detail = await qcl.get<{ state: string; steps: { step: string }[] }>(`/api/workflows/executions/${id}`);
  expect(detail.state).toBe('succeeded');
  await expect(steps).toHaveCount(detail.steps.length); // every finished step the API lists is on the page
  await expect(page.locator(`[data-execution="${id}"]`).first()).toBeVisible(); // and in the executions list
  await shot(page, 'live-workflows-epoch-report');
  expect(await seriousAxeViolations(page)).toEqual([]);
  expect(await cspViolations(page)).toEqual([]);
});
