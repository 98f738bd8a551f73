import { expect, test } from '@playwright/test';
import { prepare, shot } from '../helpers';
import { installMockApi } from './mockApi';

test('switching to English in Settings changes the text everywhere and survives a reload', async ({ page }) => {
  await prepare(page);
  await installMockApi(page);
  await page.goto('/#/settings');
  await expect(page.getByTestId('page-title')).toHaveText('設定');
  await page.getByLabel('語言', { exact: true }).click();
  await page.getByRole('option', { name: 'English' }).click();
  await expect(page.getByTestId('page-title')).toHaveText('Settings');
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await page.goto('/#/overview');
  await expect(page.getByText('Network health')).toBeVisible();
  await expect(page.getByTestId('findings')).toContainText('No new tick for 121 s');
  await page.reload();
  await expect(page.getByTestId('page-title')).toHaveText('Overview');
  await shot(page, 'overview-english');
});

test('the l key toggles the language', async ({ page }) => {
  await prepare(page);
  await installMockApi(page);
  await page.goto('/');
  await expect(page.getByTestId('health-score')).toBeVisible();
  await page.keyboard.press('l');
  await expect(page.getByTestId('page-title')).toHaveText('Overview');
  await page.keyboard.press('l');
  await expect(page.getByTestId('page-title')).toHaveText('總覽');
});
