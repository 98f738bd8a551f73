/** Tasks: an oracle job is filed by the API (the form names the task; the answer carries the job and its sequence)
 * and followed through running to done over the live channel. */
import { expect, test } from '@playwright/test';
import { prepare, shot } from '../helpers';
import { oracleTask } from './fixtures';
import { installMockApi } from './mockApi';

test('an oracle job names its task, shows its sequence, and is followed to done', async ({ page }) => {
  await prepare(page);
  const api = await installMockApi(page);
  await page.goto('/#/tasks');
  await expect(page.getByTestId('sync-state')).toHaveAttribute('data-state', 'live');
  await page.getByLabel('任務類型').click();
  await page.getByRole('option', { name: '預言機任務' }).click();
  await page.getByTestId('oracle-task').click();
  await page.getByRole('option', { name: '異常發現' }).click();
  await page.getByRole('button', { name: '提交', exact: true }).click();
  const row = page.getByTestId('tasks').locator('tbody tr').first();
  await expect(row.getByTestId('task-job')).toContainText('序號 7');
  await expect(row.getByTestId('task-state')).toHaveText('執行中'); // GET /api/tasks/{id}: a member took it
  expect(api.oracleTasks).toEqual([{ kind: 'oracle', task: 'analysis.findings', window: null }]);
  api.push('task', { ...oracleTask('done'), updated_at: '2025-11-12T10:00:09Z', result: { status: 'committed' } });
  await expect(row.getByTestId('task-state')).toHaveText('完成');
  await shot(page, 'tasks-oracle');
});
