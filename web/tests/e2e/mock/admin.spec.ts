/**
 * The admin console with an admin key (the API answered in the browser): the Keys page and the Nodes page's actions
 * render with data, pass axe and the CSP, and fit a 360 px phone; a key's scope reads in words.
 */
import { expect, test } from '@playwright/test';
import { cspViolations, horizontalOverflow, PHONE, prepare, seriousAxeViolations, shot } from '../helpers';
import { installMockApi } from './mockApi';

for (const page of ['keys', 'nodes']) {
  test(`the admin's ${page} page passes axe and CSP and fits a phone`, async ({ page: browser }) => {
    await prepare(browser);
    await installMockApi(browser, { admin: true });
    await browser.goto(`/#/${page}`);
    await expect(browser.getByTestId('nav-admin')).toBeVisible();
    await browser.waitForLoadState('networkidle');
    await expect(browser.locator('[aria-busy="true"]')).toHaveCount(0);
    await shot(browser, `admin-${page}-desktop`);
    expect(await seriousAxeViolations(browser)).toEqual([]);
    expect(await cspViolations(browser)).toEqual([]);
    await browser.setViewportSize(PHONE);
    await shot(browser, `admin-${page}-phone`);
    expect(await horizontalOverflow(browser)).toBeLessThanOrEqual(0);
  });
}

test('the keys page shows each key’s scope and offers revoke only for live keys', async ({ page }) => {
  await prepare(page);
  await page.addInitScript(() => localStorage.setItem('qcl.language', 'en'));
  await installMockApi(page, { admin: true });
  await page.goto('/#/keys');
  const table = page.getByTestId('key-table');
  await expect(table.locator('tr[data-key="3f9c0a12"]').getByTestId('key-scope')).toContainText('routes tagged nodes, network · expires');
  await expect(table.locator('tr[data-key="e5f4d56b"]').getByTestId('key-scope')).toHaveText('all routes of its role');
  await expect(table.locator('tr[data-key="0badc0de"]')).toHaveAttribute('data-revoked', 'true');
  await expect(table.locator('tr[data-key="0badc0de"]').getByTestId('key-revoke')).toHaveCount(0);
  await expect(table.getByTestId('key-revoke')).toHaveCount(2);
});

test('an admin may drain, restart or remove a shard, and drain or restart an oracle member', async ({ page }) => {
  await prepare(page);
  await installMockApi(page, { admin: true });
  await page.goto('/#/nodes');
  const table = page.getByTestId('node-table');
  const shard = table.locator('tr[data-node="local-s0-r0"]').first();
  const member = table.locator('tr[data-node="oracle-0"]').first();
  for (const action of ['drain', 'restart', 'remove']) await expect(shard.getByTestId(`node-${action}`)).toHaveCount(1);
  await expect(member.getByTestId('node-drain')).toHaveCount(1);
  await expect(member.getByTestId('node-remove')).toHaveCount(0);
});

test('a viewer gets no node actions', async ({ page }) => {
  await prepare(page);
  await installMockApi(page);
  await page.goto('/#/nodes');
  await expect(page.getByTestId('node-table')).toBeVisible();
  await expect(page.getByTestId('node-drain')).toHaveCount(0);
  await expect(page.getByTestId('nav-admin')).toHaveCount(0);
});
