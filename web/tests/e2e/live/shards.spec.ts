/**
 * A killed shard on the Nodes page, against its own `qcl up --shards 3`: SmolLM2 split over three `qcl shard serve`
 * processes on loopback behind the narrator's model (the model stays on: the pool is the model; its conversion is
 * shared through modelCacheDir()). One stage process is killed with SIGKILL; the page shows it failed, then
 * recovered when the local pool's supervisor has restarted it on its port. Screenshots of each state.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import type { NodeView, Topology } from '../../../src/api/types';
import { cspViolations, prepare, shot } from '../helpers';
import { modelCacheDir, startQcl, type RunningQcl } from '../qclUp';

const START_TIMEOUT_MS = 6 * 60_000; // a first conversion (~40 s) and three stages importing torch on 2 cores

/** The pid of the `qcl shard serve … --port P --node-id N` process (read from /proc: no pgrep needed). */
function stagePid(port: string, nodeId: string): number {
  const found = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        const value = (flag: string) => args[args.indexOf(flag) + 1];
        return args.includes('serve') && value('--port') === port && value('--node-id') === nodeId;
      } catch {
        return false; // gone while we looked
      }
    });
  expect(found, `one shard process on port ${port}`).toHaveLength(1);
  return Number(found[0]);
}

async function get<T>(qcl: RunningQcl, path: string): Promise<T> {
  const response = await fetch(new URL(path, qcl.url), { headers: { Authorization: `Bearer ${qcl.key}` } });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

test('a killed shard shows on the Nodes page as failed, then recovers', async ({ page }) => {
  test.skip(process.env.QCL_E2E_SKIP_LIVE === '1', 'no live stack (QCL_E2E_SKIP_LIVE=1)');
  test.setTimeout(START_TIMEOUT_MS + 3 * 60_000);
  const qcl = await startQcl({
    args: ['--shards', '3'],
    env: { QCL_MODEL_CACHE_DIR: modelCacheDir() },
    startTimeoutMs: START_TIMEOUT_MS,
  });
  try {
    const pool = (await get<Topology>(qcl, '/api/topology')).shard_pool;
    expect(pool.stages.map((stage) => stage.nodes.length)).toEqual([1, 1, 1]);
    const victim = pool.nodes.find((node) => node.shard?.stage === 1) as NodeView;
    const port = victim.shard!.address!.split(':')[1]!;
    const pid = stagePid(port, victim.node_id);

    await prepare(page, qcl.key);
    await page.goto(new URL('/#/nodes', qcl.url).toString());
    const row = page.getByTestId('node-table').locator(`tr[data-node="${victim.node_id}"]`);
    const stage = page.getByTestId('topology-graph').locator('[data-testid="graph-stage"][data-stage="1"]');
    await expect(row).toHaveAttribute('data-state', 'up', { timeout: 30_000 });
    await expect(page.getByTestId('sync-state')).toHaveAttribute('data-state', 'live');
    await expect(row.getByTestId('node-placement')).toContainText('階段 1');
    await shot(page, 'live-nodes-shards-up');

    process.kill(pid, 'SIGKILL');
    await expect(row).toHaveAttribute('data-state', 'down', { timeout: 30_000 }); // 3 missed heartbeats of 1 s
    await expect(stage).toHaveAttribute('data-up', '0');
    await expect(page.getByTestId('node-events')).toContainText(`${victim.node_id} 故障`);
    await shot(page, 'live-nodes-shard-failed');

    // The pool's supervisor restarts the stage on its port; it loads its layers and heartbeats again.
    await expect(row).toHaveAttribute('data-state', 'up', { timeout: 120_000 });
    await expect(row.getByTestId('node-last-event')).toHaveText('恢復');
    await expect(stage).toHaveAttribute('data-up', '1');
    await shot(page, 'live-nodes-shard-recovered');
    expect(stagePid(port, victim.node_id)).not.toBe(pid); // a new process, at the same address
    expect(await cspViolations(page)).toEqual([]);
  } finally {
    await qcl.stop();
  }
});
