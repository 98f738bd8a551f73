/** Alerts against the mocked API: the navigation's badge, an operator silences a rule from its alert (and reads the
 * 422 that names the rules when the name is wrong), expires a silence; without Alertmanager the silences panel
 * explains itself, also on a phone; a viewer gets no buttons. axe and the CSP hold with the form open. */
import { expect, test } from '@playwright/test';
import { cspViolations, horizontalOverflow, PHONE, prepare, seriousAxeViolations, shot } from '../helpers';
import { LAG } from './alertFixtures';
import { installMockApi } from './mockApi';

test('an operator silences a rule from its alert, reads a refusal, and expires a silence', async ({ page }) => {
  await prepare(page);
  const api = await installMockApi(page, { operator: true });
  await page.goto('/#/overview');
  const badge = page.getByTestId('alerts-badge');
  await expect(badge).toHaveText(/^2/);
  await expect(badge).toHaveAttribute('data-page', 'true');

  await page.getByTestId('nav-alerts').click();
  const nodeDown = page.locator('[data-alert="fp-QclNodeDown"]').first();
  await expect(nodeDown.getByTestId('alert-delivery-failed')).toContainText('pagerduty');
  await expect(nodeDown.getByTestId('alert-runbook')).toContainText('docs/runbooks/QclNodeDown.md');
  await nodeDown.getByRole('button', { name: '靜音規則 QclNodeDown' }).click();
  const name = page.getByLabel(/^警報規則名稱/);
  await expect(name).toHaveValue('QclNodeDown');
  await expect(name).toBeFocused();
  await page.getByLabel(/^時長/).fill('30');
  await page.getByRole('combobox', { name: '單位' }).click();
  await page.getByRole('option', { name: '分鐘' }).click();
  await page.getByLabel(/^原因說明/).fill('重開 shard-1');
  await page.getByLabel(/^其他比對標籤/).fill('role=shard');
  await page.getByRole('button', { name: '建立靜音' }).click();
  await expect(page.getByTestId('alerts-notice')).toContainText('已建立靜音');
  expect(api.silenceRequests).toEqual([{ alertname: 'QclNodeDown', duration_s: 1800, comment: '重開 shard-1', matchers: { role: 'shard' } }]);
  const created = page.locator('[data-silence="a11ce000-0000-4000-8000-000000000001"]').filter({ hasText: '重開 shard-1' });
  await expect(created.getByTestId('silence-state')).toHaveText('生效中');
  expect(await seriousAxeViolations(page)).toEqual([]);

  await page.getByLabel(/^警報規則名稱/).fill('QclNodeDwn');
  await page.getByLabel(/^原因說明/).fill('typo');
  await page.getByRole('button', { name: '建立靜音' }).click();
  const refusal = page.getByTestId('silence-form').getByRole('alert');
  await expect(refusal).toContainText("no alert rule 'QclNodeDwn'; rules: QclApiAbsent, QclBusLagHigh, QclNodeDown");
  await expect(page.getByText('沒有這個警報規則；下方訊息列出現有的規則')).toBeVisible();
  await shot(page, 'alerts-operator');

  await page.getByRole('button', { name: '解除靜音 a11ce000-0000-4000-8000-000000000001' }).click();
  await expect(page.getByTestId('alerts-notice')).toContainText('已解除靜音');
  await expect(created.getByTestId('silence-state')).toHaveText('已過期');

  await page.getByTestId('toggle-language').click();
  await expect(page.getByTestId('nav-alerts')).toContainText('2 alerts firing, 1 of them paging');
  expect(await cspViolations(page)).toEqual([]);
});

test('the badge follows the alerts and is not red without a page', async ({ page }) => {
  await page.clock.install();
  await prepare(page);
  const api = await installMockApi(page);
  api.alerts = [LAG];
  await page.goto('/#/overview');
  await expect(page.getByTestId('alerts-badge')).toHaveAttribute('data-page', 'false');
  api.alerts = [];
  await page.clock.runFor(15_000);
  await expect(page.getByTestId('alerts-badge')).toHaveCount(0);
});

test('without Alertmanager the silences panel says so; a viewer gets no buttons, also on a phone', async ({ page }) => {
  await page.setViewportSize(PHONE);
  await prepare(page);
  const api = await installMockApi(page);
  api.silences = null;
  await page.goto('/#/alerts');
  await expect(page.getByTestId('alerting-unavailable')).toContainText('尚未設定警報系統');
  await expect(page.getByTestId('viewer-note')).toBeVisible();
  await expect(page.getByTestId('active-alerts')).toBeVisible();
  await expect(page.getByTestId('silence-form')).toHaveCount(0);
  await expect(page.getByRole('button', { name: /靜音規則|解除靜音/ })).toHaveCount(0);
  await expect(page.getByTestId('nav-open')).toHaveAccessibleName(/2 個警報觸發中/);
  await shot(page, 'alerts-unavailable-phone');
  expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
  expect(await seriousAxeViolations(page)).toEqual([]);
});
