/** A node failing and recovering, as the live channel reports it, on the Nodes page (the real stack has no shard
 * pool yet: see tests/e2e/live). */
import { expect, test } from '@playwright/test';
import type { NodeView } from '../../../src/api/types';
import { prepare, shot } from '../helpers';
import { NODES } from './fixtures';
import { installMockApi } from './mockApi';

const shard = NODES.find((node) => node.node_id === 'shard-0')!;
const at = (minute: number) => `2025-11-12T10:${String(minute).padStart(2, '0')}:00Z`;

test('a failed shard shows on the Nodes page as it happens, then recovers', async ({ page }) => {
  await prepare(page);
  const api = await installMockApi(page);
  await page.goto('/#/nodes');
  const row = page.getByTestId('node-table').locator('tr[data-node="shard-0"]');
  await expect(row).toHaveAttribute('data-state', 'up');
  await expect(page.getByTestId('sync-state')).toHaveAttribute('data-state', 'live');

  api.push('node', { ...shard, state: 'down', last_event: 'failed', last_seen: at(5), detail: 'heartbeat missed' } satisfies NodeView);
  await expect(row).toHaveAttribute('data-state', 'down');
  await expect(row.getByTestId('node-state')).toHaveText('離線');
  await expect(page.getByTestId('node-events')).toContainText('shard-0 故障');
  await expect(page.getByTestId('topology-graph').locator('[data-node="shard-0"]')).toHaveAttribute('data-state', 'down');
  await shot(page, 'nodes-shard-failed');

  api.push('node', { ...shard, state: 'up', last_event: 'recovered', last_seen: at(6), detail: '' } satisfies NodeView);
  await expect(row).toHaveAttribute('data-state', 'up');
  await expect(page.getByTestId('node-events')).toContainText('shard-0 已恢復');
});
