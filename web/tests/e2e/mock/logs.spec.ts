/** The Logs page against the mocked API as an operator: lines and patterns render in Traditional Chinese, axe and
 * the CSP hold, and nothing scrolls sideways on a 360 px phone. */
import { expect, test } from '@playwright/test';
import { cspViolations, horizontalOverflow, PHONE, prepare, seriousAxeViolations, shot } from '../helpers';
import { installMockApi } from './mockApi';

for (const [name, viewport] of [['desktop', null], ['phone', PHONE]] as const) {
  test(`an operator's Logs page passes axe and the CSP on ${name}`, async ({ page }) => {
    if (viewport) await page.setViewportSize(viewport);
    await prepare(page);
    await installMockApi(page, { operator: true });
    await page.goto('/#/logs');
    await expect(page.getByTestId('logs-line')).toHaveCount(3);
    await expect(page.getByTestId('logs-flag-bursting')).toHaveText('激增');
    await shot(page, `logs-operator-${name}`);
    expect(await seriousAxeViolations(page)).toEqual([]);
    expect(await cspViolations(page)).toEqual([]);
    if (viewport) expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
  });
}
