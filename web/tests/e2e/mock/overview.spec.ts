import { expect, test } from '@playwright/test';
import { cspViolations, prepare, shot } from '../helpers';
import { installMockApi } from './mockApi';

test('the overview fills with the latest analysis, chart, anomalies and insight', async ({ page }) => {
  await prepare(page);
  await installMockApi(page);
  await page.goto('/');
  await expect(page.getByTestId('health-score')).toHaveText('72');
  await expect(page.getByTestId('metric-tick')).toContainText('37,000,000');
  await expect(page.getByTestId('findings').getByRole('listitem')).toHaveCount(3);
  await expect(page.getByTestId('badge-grounded')).toBeVisible();
  await expect(page.locator('#chart-price canvas')).toBeVisible();
  await shot(page, 'overview-desktop');
  expect(await cspViolations(page)).toEqual([]);
});
