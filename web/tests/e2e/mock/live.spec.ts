/** The live channel in a real browser: events update the page, a dropped socket reconnects and resumes. */
import { expect, test } from '@playwright/test';
import { LATEST_AT, latest } from './fixtures';
import { prepare, shot } from '../helpers';
import { installMockApi } from './mockApi';

/** The next report, two minutes after the fixture's latest, as the analyzer would publish it. */
const later = (minutes: number, change: object) => ({
  ...latest(),
  observed_at: new Date(LATEST_AT + minutes * 60_000).toISOString(),
  ...change,
});

test('a live analysis event updates the overview without a reload', async ({ page }) => {
  await prepare(page);
  const api = await installMockApi(page);
  await page.goto('/');
  await expect(page.getByTestId('sync-state')).toHaveAttribute('data-state', 'live');
  await expect(page.getByTestId('health-score')).toHaveText('72');
  await page.evaluate(() => ((window as unknown as { __marker: number }).__marker = 1));
  api.push('analysis', later(2, { health_score: 35, status: 'critical' }));
  await expect(page.getByTestId('health-score')).toHaveText('35');
  expect(await page.evaluate(() => (window as unknown as { __marker?: number }).__marker)).toBe(1); // same page
});

test('a dropped connection shows reconnecting, then resumes after the last event seen', async ({ page }) => {
  await prepare(page);
  const api = await installMockApi(page);
  await page.goto('/');
  await expect(page.getByTestId('sync-state')).toHaveAttribute('data-state', 'live');
  api.push('analysis', later(2, { health_score: 50 }));
  await expect(page.getByTestId('health-score')).toHaveText('50');
  api.refuse(true);
  api.dropAll();
  await expect(page.getByTestId('sync-state')).toHaveAttribute('data-state', 'reconnecting');
  await expect(page.getByTestId('sync-state')).toContainText('重新連線中');
  await shot(page, 'sync-reconnecting');
  api.refuse(false);
  await expect(page.getByTestId('sync-state')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
  expect(api.connections.at(0)).toBeNull();
  expect(api.connections.at(-1)).toBe(101); // resumes after the last event it saw
});

test('the browser going offline shows offline with the last update time', async ({ page, context }) => {
  await prepare(page);
  const api = await installMockApi(page);
  await page.goto('/');
  await expect(page.getByTestId('sync-state')).toHaveAttribute('data-state', 'live');
  api.push('analysis', later(2, {}));
  await context.setOffline(true);
  await expect(page.getByTestId('sync-state')).toHaveAttribute('data-state', 'offline');
  await expect(page.getByTestId('sync-state')).toContainText(/離線.*最後更新 \d\d:\d\d:\d\d UTC/);
  await shot(page, 'sync-offline');
  await context.setOffline(false);
  await expect(page.getByTestId('sync-state')).toHaveAttribute('data-state', 'live');
});

test('a refused key shows “key refused” and is not retried until the key changes', async ({ page }) => {
  await prepare(page, 'qcl_00000000_revoked');
  const api = await installMockApi(page);
  api.refuseKey(4401);
  await page.goto('/');
  const sync = page.getByTestId('sync-state');
  await expect(sync).toHaveAttribute('data-state', 'refused');
  await expect(sync).toContainText('金鑰遭拒');
  await shot(page, 'sync-key-refused');
  await page.waitForTimeout(3000); // a retry would come within 1 s, the next within 2 s
  expect(api.connections).toEqual([-1]);
  api.refuseKey(null);
  await page.getByTestId('nav-settings').click(); // the same page: the connection lives on
  await page.getByTestId('api-key-input').fill('qcl_1f2e3d4c_valid');
  await page.getByRole('button', { name: '儲存' }).click();
  await expect(sync).toHaveAttribute('data-state', 'live');
  expect(api.connections.length).toBe(2);
});
