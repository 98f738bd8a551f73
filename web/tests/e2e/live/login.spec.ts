/**
 * The admin console against its own `qcl up`: the login URL it prints signs a fresh browser in (no key pasted, no
 * "API key missing" wall, the token gone from the address bar, the session cookie out of scripts' reach); the Audit
 * page verifies the chain and lists the sign-in; the Settings versions page changes a rate limit and rolls it back.
 * The same URL opened again is refused with a clear message.
 */
import { expect, test, type Browser } from '@playwright/test';
import { cspViolations, prepare, shot } from '../helpers';
import { startQcl, type RunningQcl } from '../qclUp';

let qcl: RunningQcl;
let loginUrl: string;

test.beforeAll(async () => {
  test.skip(process.env.QCL_E2E_SKIP_LIVE === '1', 'no live stack (QCL_E2E_SKIP_LIVE=1)');
  qcl = await startQcl({ env: { QCL_NARRATE_MODEL: 'false' } });
  const printed = /qcl up: open (http:\/\/127\.0\.0\.1:\d+\/\?login=[\w-]+)/.exec(qcl.output());
  expect(printed, 'qcl up prints a login URL').not.toBeNull();
  loginUrl = printed![1]!;
});

test.afterAll(async () => {
  await qcl?.stop();
});

async function freshPage(browser: Browser) {
  const context = await browser.newContext({ baseURL: qcl.url });
  const page = await context.newPage();
  await prepare(page, null); // no key in this browser
  return page;
}

test('the printed login URL signs in; the Audit and Settings versions pages work; a second use is refused', async ({
  browser,
}) => {
  test.setTimeout(120_000);
  const page = await freshPage(browser);
  await page.goto(loginUrl);
  await expect(page.getByTestId('health-score')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('no-key')).toHaveCount(0);
  expect(page.url()).not.toContain('login=');
  expect(await page.evaluate(() => document.cookie)).not.toContain('qcl_session'); // HttpOnly
  const cookies = await page.context().cookies();
  expect(cookies.find((cookie) => cookie.name === 'qcl_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

  await page.goto(new URL('/#/audit', qcl.url).toString());
  await page.getByTestId('audit-verify').click();
  await expect(page.getByTestId('audit-verdict')).toContainText('雜湊鏈完整');
  await expect(page.getByTestId('audit-table')).toContainText('session.opened');
  await shot(page, 'live-audit');

  await page.goto(new URL('/#/versions', qcl.url).toString());
  await page.getByTestId('setting-rate_limit_key_burst').fill('0');
  await page.getByTestId('settings-save').click();
  await expect(page.getByTestId('settings-error')).toContainText('rate_limit_key_burst');
  await page.getByTestId('setting-rate_limit_key_burst').fill('75');
  await page.getByTestId('settings-save').click();
  await expect(page.getByTestId('settings-history')).toContainText('rate_limit_key_burst');
  await expect(page.getByTestId('settings-diff')).toContainText('75');
  await page.getByTestId('rollback-0').click();
  await page.getByTestId('rollback-confirm').click();
  await expect(page.getByTestId('settings-history')).toContainText('第 2 版');
  const versions = await (
    await fetch(new URL('/api/admin/settings/versions', qcl.url), { headers: { Authorization: `Bearer ${qcl.key}` } })
  ).json();
  expect(versions.current).toBe(2);
  expect(versions.versions[2].values.rate_limit_key_burst).toBe(versions.versions[0].values.rate_limit_key_burst);
  await shot(page, 'live-settings-versions');
  expect(await cspViolations(page)).toEqual([]);

  const again = await freshPage(browser);
  await again.goto(loginUrl);
  await expect(again.getByTestId('login-error')).toContainText('已經用過');
  await expect(again.getByTestId('no-key')).toBeVisible();
  await shot(again, 'live-login-used');
});
