/** Workflows against the mocked API: an operator types the argument into Monaco, runs epoch-report, follows the
 * execution to its steps (result and error per step), and cancels a running one. */
import { expect, test } from '@playwright/test';
import { cspViolations, prepare, seriousAxeViolations, shot } from '../helpers';
import { execution } from './computeFixtures';
import { installMockApi } from './mockApi';

test('an operator runs a workflow with a JSON argument and sees its steps', async ({ page }) => {
  await prepare(page);
  const api = await installMockApi(page, { operator: true });
  await page.goto('/#/workflows');
  await expect(page.getByTestId('revisions')).toContainText('修訂版：1, 2');
  const editor = page.getByTestId('run-argument').locator('.monaco-editor');
  await expect(editor.locator('.view-lines')).toHaveText('{}');
  await editor.locator('.view-lines').click();
  await expect(editor).toHaveClass(/focused/);
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Backspace');
  await expect(editor.locator('.view-lines')).toHaveText('');
  await page.keyboard.insertText('{"epoch": 190}');
  await expect(page.getByTestId('argument-invalid')).toHaveCount(0);
  await page.getByRole('button', { name: '執行 epoch-report' }).click();
  await expect(page.getByTestId('execution')).toHaveAttribute('data-execution', 'exec-run-1');
  expect(api.runs).toEqual([{ argument: { epoch: 190 }, wait_s: 0 }]);
  await expect(page.getByTestId('execution').getByTestId('execution-state')).toHaveText('執行中');

  const finished = { ...execution('failed', 'exec-run-1'), argument: { epoch: 190 } };
  api.executions[0] = finished;
  await expect(page.getByTestId('execution').getByTestId('execution-state')).toHaveText('失敗'); // polled
  await expect(page.getByTestId('step')).toHaveCount(3);
  await expect(page.getByTestId('step').nth(1).getByTestId('step-result')).toContainText('"health_score": 100');
  await expect(page.getByTestId('step').nth(2).getByTestId('step-error')).toContainText('model busy');
  await expect(page.getByTestId('workflows-announcement')).toContainText('現在是「失敗」');
  await shot(page, 'workflows-execution');
  expect(await seriousAxeViolations(page)).toEqual([]);
  expect(await cspViolations(page)).toEqual([]);
});

test('an operator cancels a running execution', async ({ page }) => {
  await prepare(page);
  const api = await installMockApi(page, { operator: true });
  api.executions.unshift(execution('running', 'exec-long'));
  await page.goto('/#/workflows');
  await page.getByRole('button', { name: '查看執行 exec-long' }).click();
  await page.getByTestId('cancel-execution').click();
  await expect(page.getByTestId('execution').getByTestId('execution-state')).toHaveText('已取消');
  await expect(page.getByTestId('cancel-execution')).toHaveCount(0);
});
