import { expect, test } from '@playwright/test';
import { prepare, shot } from '../helpers';
import { installMockApi } from './mockApi';

test('a refused API key is explained, with the way to fix it', async ({ page }) => {
  await prepare(page, 'wrong-key');
  await installMockApi(page, { failWith: { status: 401, code: 'unauthorized', message: 'unknown API key' } });
  await page.goto('/');
  const alert = page.getByRole('alert').first();
  await expect(alert).toContainText('API 金鑰無效或未設定');
  await expect(alert).toContainText('unknown API key');
  await expect(alert).toContainText('請求編號：req-test-1');
  await alert.getByRole('link').click();
  await expect(page).toHaveURL(/#\/settings$/);
  await shot(page, 'error-unauthorized');
});

test('a rate limit shows when to retry on every panel instead of a blank page', async ({ page }) => {
  await prepare(page);
  await installMockApi(page, { failWith: { status: 429, code: 'rate_limited', message: 'slow down' } });
  await page.goto('/#/nodes');
  await expect(page.getByRole('alert').first()).toContainText('請求太頻繁');
});

test('without a key the dashboard asks for one', async ({ page }) => {
  await prepare(page, null);
  await installMockApi(page, { failWith: { status: 401, code: 'unauthorized', message: 'missing key' } });
  await page.goto('/');
  await expect(page.getByTestId('no-key')).toBeVisible();
});
