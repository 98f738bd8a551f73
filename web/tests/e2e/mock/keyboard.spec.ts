import { expect, test } from '@playwright/test';
import { prepare, shot } from '../helpers';
import { installMockApi } from './mockApi';

test('? opens the shortcut overlay and Escape closes it', async ({ page }) => {
  await prepare(page);
  await installMockApi(page);
  await page.goto('/');
  await expect(page.getByTestId('health-score')).toBeVisible();
  await page.keyboard.press('?');
  await expect(page.getByTestId('shortcuts-dialog').getByRole('dialog')).toBeVisible();
  await shot(page, 'shortcuts');
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog')).toHaveCount(0);
});

test('the first Tab reaches the skip link, which moves focus to the page heading', async ({ page }) => {
  await prepare(page);
  await installMockApi(page);
  await page.goto('/');
  await expect(page.getByTestId('health-score')).toBeVisible(); // the app is up (keys before it would go nowhere)
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: '跳到主要內容' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('page-title')).toBeFocused();
});

test('/ jumps to the question box', async ({ page }) => {
  await prepare(page);
  await installMockApi(page);
  await page.goto('/');
  await expect(page.getByTestId('health-score')).toBeVisible();
  await page.keyboard.press('/');
  await expect(page.getByLabel('你的問題')).toBeFocused();
});
