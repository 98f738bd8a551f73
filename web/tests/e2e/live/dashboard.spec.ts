/**
 * The dashboard against a real `qcl up` on loopback (bundled synthetic replay at 120x, template narration): live
 * data, a question and its answer, languages, phone width, accessibility and the server's real CSP, tasks run by the
 * stack's narrator, and a refused key. The shard pool's failure and recovery is in shards.spec.ts (its own qcl up).
 */
import { PAGES } from '../../../src/lib/route';
import { cspViolations, horizontalOverflow, PHONE, seriousAxeViolations, shot } from '../helpers';
import { expect, openDashboard, test } from './fixture';

test('the overview fills with live data and keeps updating without a reload', async ({ page, qcl }) => {
  await openDashboard(page, qcl);
  await expect(page.getByTestId('health-score')).toHaveText(/^\d+$/, { timeout: 30_000 });
  await expect(page.getByTestId('sync-state')).toHaveAttribute('data-state', 'live');
  const firstTick = await page.getByTestId('metric-tick').textContent();
  await page.evaluate(() => ((window as unknown as { __same: boolean }).__same = true));
  // The replay publishes an observation every 0.25 s; the tick shown must move on by itself.
  await expect(page.getByTestId('metric-tick')).not.toHaveText(firstTick ?? '', { timeout: 20_000 });
  expect(await page.evaluate(() => (window as unknown as { __same?: boolean }).__same)).toBe(true);
  await expect(page.locator('#chart-price canvas')).toBeVisible({ timeout: 30_000 });
  await shot(page, 'live-overview-desktop');
});

test('a question gets an answer whose numbers are exact or verified, with its sources', async ({ page, qcl }) => {
  await openDashboard(page, qcl, '/#/ask');
  await page.getByTestId('ask-template').filter({ hasText: '網路健康嗎？' }).click();
  const answer = page.getByTestId('answers').getByTestId('insight-card').first();
  await expect(answer).toBeVisible({ timeout: 60_000 });
  // Grounded: a model text whose every number was checked, or the template text (exact by construction).
  await expect(answer.getByTestId('badge-grounded').or(answer.getByTestId('badge-fallback'))).toBeVisible();
  await expect(answer.getByTestId('badge-not-grounded')).toHaveCount(0);
  await expect(answer.getByTestId('insight-source').first()).toBeVisible();
  await expect(answer).toContainText('問：網路健康嗎？');
  await shot(page, 'live-ask-answer');
});

test('switching to English changes the interface and the answers', async ({ page, qcl }) => {
  await openDashboard(page, qcl);
  await expect(page.getByTestId('health-score')).toBeVisible({ timeout: 30_000 });
  await page.getByTestId('toggle-language').click();
  await expect(page.getByTestId('page-title')).toHaveText('Overview');
  await expect(page.getByText('Network health')).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await page.getByTestId('nav-ask').click();
  await page.getByTestId('ask-template').filter({ hasText: 'Is the network healthy?' }).click();
  const answer = page.getByTestId('answers').getByTestId('insight-card').first();
  await expect(answer.locator('[lang="en"]').first()).toBeVisible({ timeout: 60_000 });
  await shot(page, 'live-english');
});

for (const name of PAGES) {
  test(`${name}: desktop and 360 px phone, axe finds nothing serious, no CSP violation`, async ({ page, qcl }) => {
    await openDashboard(page, qcl, `/#/${name}`);
    await expect(page.getByTestId('page-title')).toBeVisible();
    await expect(page.locator('[aria-busy="true"]')).toHaveCount(0, { timeout: 30_000 });
    await shot(page, `live-${name}-desktop`);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.setViewportSize(PHONE);
    await expect(page.locator('[aria-busy="true"]')).toHaveCount(0, { timeout: 30_000 });
    await shot(page, `live-${name}-phone`);
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    expect(await seriousAxeViolations(page)).toEqual([]);
    expect(await cspViolations(page)).toEqual([]);
  });
}

test('the raw JSON opens in Monaco, editable for the admin key, under the server’s CSP', async ({ page, qcl }) => {
  await openDashboard(page, qcl, '/#/settings');
  const viewer = page.getByTestId('json-viewer');
  await expect(viewer).toHaveAttribute('data-readonly', 'false', { timeout: 30_000 });
  await expect(viewer.locator('.view-lines')).toContainText('"health_score"', { timeout: 30_000 });
  expect(await cspViolations(page)).toEqual([]);
});

test('a submitted narration task is listed with the state the API gives it', async ({ page, qcl }) => {
  await openDashboard(page, qcl, '/#/tasks');
  await page.getByRole('button', { name: '提交', exact: true }).click();
  const row = page.getByTestId('tasks').locator('tbody tr').first();
  await expect(row.getByTestId('task-state')).toBeVisible();
  const id = await row.getAttribute('data-task');
  const task = await qcl.get<{ state: string }>(`/api/tasks/${id}`);
  const label = { queued: '排隊中', running: '執行中', done: '完成', failed: '失敗' }[task.state];
  await expect(row.getByTestId('task-state')).toHaveText(label ?? task.state);
  await shot(page, 'live-tasks');
});

test('a narration task is followed until it is done by the stack’s narrator', async ({ page, qcl }) => {
  await openDashboard(page, qcl, '/#/tasks');
  await page.getByRole('button', { name: '提交', exact: true }).click();
  const row = page.getByTestId('tasks').locator('tbody tr').first();
  await expect(row.getByTestId('task-state')).toHaveText('完成', { timeout: 60_000 });
  const id = await row.getAttribute('data-task');
  const task = await qcl.get<{ state: string; worker: string; started_at: string | null }>(`/api/tasks/${id}`);
  expect([task.state, task.worker, task.started_at !== null]).toEqual(['done', '//qcl/up/narrator', true]);
  await shot(page, 'live-tasks-done');
  expect(await cspViolations(page)).toEqual([]);
});

test('a wrong key is explained with the server’s request id', async ({ page, qcl }) => {
  await openDashboard(page, qcl, '/', 'qcl_00000000_not-a-real-key');
  const alert = page.getByRole('alert').first();
  await expect(alert).toContainText('API 金鑰無效或未設定');
  await expect(alert).toContainText(/請求編號：[0-9a-f]{32}/);
});

test('a refused key shows “key refused” in the header and the live channel stops retrying', async ({ page, qcl }) => {
  await openDashboard(page, qcl, '/', 'qcl_00000000_not-a-real-key');
  const sync = page.getByTestId('sync-state');
  await expect(sync).toHaveAttribute('data-state', 'refused');
  await expect(sync).toContainText('金鑰遭拒');
  await shot(page, 'live-key-refused');
  await page.getByTestId('nav-settings').click();
  await page.getByTestId('api-key-input').fill(qcl.key);
  await page.getByRole('button', { name: '儲存' }).click();
  await expect(sync).toHaveAttribute('data-state', 'live'); // a new key: a new try
});
