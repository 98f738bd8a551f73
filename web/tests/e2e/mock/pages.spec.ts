/**
 * Every page at desktop and phone width: it renders with data, nothing scrolls sideways at 360 px, axe-core finds no
 * serious or critical violation, and the page runs under the API's CSP without a single violation.
 */
import { expect, test } from '@playwright/test';
import { PAGES } from '../../../src/lib/route';
import { cspViolations, horizontalOverflow, PHONE, prepare, seriousAxeViolations, shot } from '../helpers';
import { installMockApi } from './mockApi';

for (const page of PAGES) {
  test(`${page} page passes axe and CSP on desktop`, async ({ page: browser }) => {
    await prepare(browser);
    await installMockApi(browser);
    await browser.goto(`/#/${page}`);
    await expect(browser.getByTestId('page-title')).toBeVisible();
    await browser.waitForLoadState('networkidle');
    await expect(browser.locator('[aria-busy="true"]')).toHaveCount(0); // every skeleton replaced by content
    await shot(browser, `${page}-desktop`);
    expect(await seriousAxeViolations(browser)).toEqual([]);
    expect(await cspViolations(browser)).toEqual([]);
  });

  test(`${page} page fits a 360 px phone`, async ({ page: browser }) => {
    await browser.setViewportSize(PHONE);
    await prepare(browser);
    await installMockApi(browser);
    await browser.goto(`/#/${page}`);
    await expect(browser.getByTestId('page-title')).toBeVisible();
    await browser.waitForLoadState('networkidle');
    await expect(browser.locator('[aria-busy="true"]')).toHaveCount(0); // every skeleton replaced by content
    await shot(browser, `${page}-phone`);
    expect(await horizontalOverflow(browser)).toBeLessThanOrEqual(0);
    expect(await seriousAxeViolations(browser)).toEqual([]);
  });
}

test('the dark theme passes axe on the overview', async ({ page }) => {
  await prepare(page);
  await page.addInitScript(() => localStorage.setItem('qcl.theme', 'dark'));
  await installMockApi(page);
  await page.goto('/');
  await expect(page.getByTestId('health-score')).toBeVisible();
  await shot(page, 'overview-dark');
  expect(await seriousAxeViolations(page)).toEqual([]);
});

test('the phone menu opens the navigation and goes to a page', async ({ page }) => {
  await page.setViewportSize(PHONE);
  await prepare(page);
  await installMockApi(page);
  await page.goto('/');
  await page.getByTestId('nav-open').click();
  await page.getByTestId('nav-nodes').click();
  await expect(page.getByTestId('page-title')).toHaveText('節點');
  await expect(page).toHaveURL(/#\/nodes$/);
});
