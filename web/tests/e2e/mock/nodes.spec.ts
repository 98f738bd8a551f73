/** The Nodes page with the pool and committee as the API describes them: which layers live on which node, replicas,
 * the committee's primary and reputation; and a node failing and recovering as the live channel reports it. */
import { expect, test } from '@playwright/test';
import type { NodeView } from '../../../src/api/types';
import { prepare, shot } from '../helpers';
import { NODES } from './fixtures';
import { installMockApi } from './mockApi';

const shard = NODES.find((node) => node.node_id === 'local-s1-r0')!;
const at = (minute: number) => `2025-11-12T10:${String(minute).padStart(2, '0')}:00Z`;

test('the graph draws each stage’s layers with its replicas, and the committee’s primary', async ({ page }) => {
  await prepare(page);
  await installMockApi(page);
  await page.goto('/#/nodes');
  const graph = page.getByTestId('topology-graph');
  await expect(graph.getByTestId('layer-range')).toHaveText(['第 0–10 層', '第 11–20 層', '第 21–29 層']);
  const stage0 = graph.locator('[data-testid="graph-stage"][data-stage="0"]');
  await expect(stage0.getByTestId('graph-shard')).toHaveCount(2); // a replica
  await expect(stage0).toContainText('副本 1');
  await expect(graph.locator('[data-testid="graph-stage"][data-stage="2"]')).toHaveAttribute('data-up', '0');
  await expect(graph.locator('[data-testid="graph-member"][data-primary="true"]')).toHaveAttribute('data-node', 'oracle-1');
  await expect(graph.getByTestId('committee-view')).toContainText('主節點 oracle-1');
  const row = page.getByTestId('node-table').locator('tr[data-node="local-s0-r1"]');
  await expect(row.getByTestId('node-placement')).toHaveText('階段 0 · 副本 1 · 第 0–10 層');
  await expect(row).toContainText('127.0.0.1:50052');
  const member = page.getByTestId('node-table').locator('tr[data-node="oracle-3"]');
  await expect(member.getByTestId('node-placement')).toHaveText('成員 3 · 已排除');
  await expect(member.getByTestId('node-health')).toHaveText('信譽 0.31');
  await shot(page, 'nodes-layers');
});

test('a failed shard shows on the Nodes page as it happens, then recovers', async ({ page }) => {
  await prepare(page);
  const api = await installMockApi(page);
  await page.goto('/#/nodes');
  const row = page.getByTestId('node-table').locator('tr[data-node="local-s1-r0"]');
  await expect(row).toHaveAttribute('data-state', 'up');
  await expect(page.getByTestId('sync-state')).toHaveAttribute('data-state', 'live');
  const stage1 = page.getByTestId('topology-graph').locator('[data-testid="graph-stage"][data-stage="1"]');

  api.push('node', { ...shard, state: 'down', last_event: 'failed', last_seen: at(5), detail: 'missed 3 heartbeats' } satisfies NodeView);
  await expect(row).toHaveAttribute('data-state', 'down');
  await expect(row.getByTestId('node-state')).toHaveText('離線');
  await expect(page.getByTestId('node-events')).toContainText('local-s1-r0 故障');
  await expect(stage1.locator('[data-node="local-s1-r0"]')).toHaveAttribute('data-state', 'down');
  await expect(stage1).toHaveAttribute('data-up', '0');
  await shot(page, 'nodes-shard-failed');

  api.push('node', { ...shard, state: 'up', last_event: 'recovered', last_seen: at(6), detail: 'restarted' } satisfies NodeView);
  await expect(row).toHaveAttribute('data-state', 'up');
  await expect(stage1).toHaveAttribute('data-up', '1');
  await expect(page.getByTestId('node-events')).toContainText('local-s1-r0 已恢復');
});
