import { expect, test } from '@playwright/test';
import { cspViolations, prepare, shot } from '../helpers';
import { installMockApi } from './mockApi';

test('the raw JSON opens in a bundled Monaco, read-only for a viewer, under the CSP', async ({ page }) => {
  const requests: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  await prepare(page);
  await installMockApi(page);
  await page.goto('/#/settings');
  const viewer = page.getByTestId('json-viewer');
  await expect(viewer).toHaveAttribute('data-readonly', 'true');
  await expect(viewer.locator('.monaco-editor')).toBeVisible();
  await expect(viewer.locator('.view-lines')).toContainText('"health_score"');
  await viewer.locator('.view-lines').click();
  await page.keyboard.type('xyz');
  await expect(viewer.locator('.view-lines')).not.toContainText('xyz');
  expect(await cspViolations(page)).toEqual([]);
  expect(requests.filter((url) => !url.startsWith('http://127.0.0.1'))).toEqual([]); // nothing from a CDN
  await shot(page, 'settings-json');
});

test('an API key typed in Settings is stored and used for the next calls', async ({ page }) => {
  await prepare(page, null);
  await installMockApi(page);
  const sent: (string | null)[] = [];
  page.on('request', (request) => {
    if (request.url().includes('/api/network/latest')) sent.push(request.headers()['authorization'] ?? null);
  });
  await page.goto('/#/settings');
  await page.getByTestId('api-key-input').fill('qcl_admin_123');
  await page.getByRole('button', { name: '儲存' }).click();
  await expect(page.getByTestId('api-key-state')).toContainText('…_123');
  expect(await page.evaluate(() => localStorage.getItem('qcl.apiKey'))).toBe('qcl_admin_123');
  await page.goto('/#/overview');
  await expect(page.getByTestId('health-score')).toBeVisible();
  expect(sent.at(-1)).toBe('Bearer qcl_admin_123');
});
