/**
 * The admin console against real `qcl up` stacks. Keys (the shared stack): create a scoped key, see it once, use it
 * within its scope and be refused outside it, revoke it after a confirmation and be refused with it. Nodes (its own
 * `qcl up --shards 1` with QCL_SHARD_REPLICAS=2 on tiny-random-qwen2: two `qcl shard serve` processes holding the
 * whole model, cheap to start): drain one replica from the Nodes page, be refused draining the other (the API's
 * 409 says which layers would lose their last node), restart the drained one and see it come back active.
 */
import { expect, test } from '@playwright/test';
import { cspViolations, prepare, shot } from '../helpers';
import { modelCacheDir, startQcl } from '../qclUp';
import { openDashboard, test as liveTest } from './fixture';

const START_TIMEOUT_MS = 4 * 60_000; // two stage processes importing torch on 2 cores

liveTest('an admin creates a scoped key, sees it once, and revokes it', async ({ page, qcl }) => {
  await openDashboard(page, qcl, '/#/keys');
  await expect(page.getByTestId('nav-admin')).toBeVisible();
  await page.getByTestId('key-name').fill('e2e scoped');
  await page.getByTestId('key-tags').fill('nodes');
  await page.getByTestId('key-days').fill('1');
  await page.getByTestId('key-create-submit').click();

  const shown = page.getByTestId('key-created');
  await expect(shown).toBeVisible();
  const key = (await page.getByTestId('key-secret').textContent())?.trim() ?? '';
  expect(key).toMatch(/^qcl_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
  await shot(page, 'live-admin-key-shown-once');
  await page.getByTestId('key-created-close').click();
  await expect(shown).toBeHidden();
  await expect(page.getByText(key)).toHaveCount(0); // never shown again

  const id = key.split('_')[1]!;
  const row = page.getByTestId('key-table').locator(`tr[data-key="${id}"]`);
  await expect(row).toHaveAttribute('data-revoked', 'false');
  await expect(row.getByTestId('key-scope')).toContainText('nodes');
  const call = (path: string) => fetch(new URL(path, qcl.url), { headers: { Authorization: `Bearer ${key}` } });
  expect((await call('/api/nodes')).status).toBe(200);
  const outside = await call('/api/insights');
  expect(outside.status).toBe(403);
  expect(((await outside.json()) as { error: { code: string } }).error.code).toBe('out_of_scope');

  await row.getByTestId('key-revoke').click();
  await expect(page.getByTestId('confirm-dialog')).toContainText(id);
  await page.getByTestId('confirm-yes').click();
  await expect(row).toHaveAttribute('data-revoked', 'true');
  await expect(row.getByTestId('key-revoke')).toHaveCount(0);
  await shot(page, 'live-admin-key-revoked');
  expect((await call('/api/nodes')).status).toBe(401);
  expect(await cspViolations(page)).toEqual([]);
});

liveTest('a viewer key sees no admin menu and is told the keys page is for admins', async ({ page, qcl }) => {
  const created = await fetch(new URL('/api/admin/keys', qcl.url), {
    method: 'POST',
    headers: { Authorization: `Bearer ${qcl.key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ role: 'viewer', name: 'e2e viewer' }),
  });
  const viewer = ((await created.json()) as { key: string }).key;
  await openDashboard(page, qcl, '/#/keys', viewer);
  await expect(page.getByTestId('admin-only')).toBeVisible();
  await expect(page.getByTestId('nav-admin')).toHaveCount(0);
});

test('an admin drains and restarts a shard stage from the Nodes page', async ({ page }) => {
  test.skip(process.env.QCL_E2E_SKIP_LIVE === '1', 'no live stack (QCL_E2E_SKIP_LIVE=1)');
  test.setTimeout(START_TIMEOUT_MS + 3 * 60_000);
  const qcl = await startQcl({
    args: ['--shards', '1'],
    env: { QCL_MODEL: 'tiny-random-qwen2', QCL_SHARD_REPLICAS: '2', QCL_MODEL_CACHE_DIR: modelCacheDir() },
    startTimeoutMs: START_TIMEOUT_MS,
  });
  try {
    await prepare(page, qcl.key);
    await page.goto(new URL('/#/nodes', qcl.url).toString());
    const table = page.getByTestId('node-table');
    const first = table.locator('tr[data-node="local-s0-r0"]');
    const second = table.locator('tr[data-node="local-s0-r1"]');
    await expect(first).toHaveAttribute('data-lifecycle', 'active', { timeout: 30_000 });

    await first.getByTestId('node-drain').click();
    await expect(page.getByTestId('confirm-dialog')).toContainText('local-s0-r0');
    await page.getByTestId('confirm-yes').click();
    await expect(first).toHaveAttribute('data-lifecycle', 'drained', { timeout: 30_000 }); // its sessions finished
    await expect(first.getByTestId('node-drain')).toHaveCount(0);
    await shot(page, 'live-admin-node-drained');

    await second.getByTestId('node-drain').click();
    await page.getByTestId('confirm-yes').click();
    await expect(page.getByTestId('node-action-error')).toContainText('no other node takes sessions for layers 0:');
    await expect(second).toHaveAttribute('data-lifecycle', 'active');

    await first.getByTestId('node-restart').click();
    await page.getByTestId('confirm-yes').click();
    await expect(first).toHaveAttribute('data-lifecycle', 'restarting', { timeout: 30_000 });
    await expect(first).toHaveAttribute('data-state', 'down', { timeout: 30_000 });
    await shot(page, 'live-admin-node-restarting');
    // The stage process starts again on its port, loads its layers and heartbeats with a new incarnation.
    await expect(first).toHaveAttribute('data-lifecycle', 'active', { timeout: 120_000 });
    await expect(first).toHaveAttribute('data-state', 'up');
    await expect(first.getByTestId('node-drain')).toHaveCount(1); // drainable again
    await shot(page, 'live-admin-node-restarted');
    expect(await cspViolations(page)).toEqual([]);
  } finally {
    await qcl.stop();
  }
});
