/** The node list and topology as live `node` messages change them, and the shard pool's layout (pure functions). */
import type { Committee, NodeView, ShardPool, Stage, Topology } from '../api/types';

/** A node's new view replaces its old one; a node not seen before is added. */
export function applyNodeView(nodes: readonly NodeView[], view: NodeView): NodeView[] {
  const known = nodes.some((node) => node.node_id === view.node_id);
  return known ? nodes.map((node) => (node.node_id === view.node_id ? view : node)) : [...nodes, view];
}

/** Shards before oracle members, each by id: the order of the table and the graph. */
export function sortNodes(nodes: readonly NodeView[]): NodeView[] {
  return [...nodes].sort(
    (a, b) => (a.role === b.role ? 0 : a.role === 'shard' ? -1 : 1) || a.node_id.localeCompare(b.node_id),
  );
}

const countUp = (nodes: readonly NodeView[]) => nodes.filter((node) => node.state === 'up').length;

/** A stage's replicas that are up, as the nodes now stand. */
function stageUp(stage: Stage, nodes: readonly NodeView[]): number {
  return stage.nodes.filter((id) => nodes.find((node) => node.node_id === id)?.state === 'up').length;
}

/** The topology with a node's new view applied to its group (counts and the stages' up counts follow). */
export function withNode(topology: Topology, view: NodeView): Topology {
  if (view.role === 'shard') {
    const nodes = applyNodeView(topology.shard_pool.nodes, view);
    const stages = topology.shard_pool.stages.map((stage) => ({ ...stage, up: stageUp(stage, nodes) }));
    const pool: ShardPool = { ...topology.shard_pool, nodes, stages, total: nodes.length, up: countUp(nodes) };
    return { ...topology, shard_pool: pool };
  }
  const nodes = applyNodeView(topology.oracle_committee.nodes, view);
  const committee: Committee = { ...topology.oracle_committee, nodes, total: nodes.length, up: countUp(nodes) };
  return { ...topology, oracle_committee: committee };
}

/** How many layers the pool's stages cover (the end of the last range). */
export function layerCount(stages: readonly Stage[]): number {
  return stages.reduce((end, stage) => Math.max(end, stage.layers[1]), 0);
}

/** "0–9" for the half-open range [0, 10): the layers as people number them. */
export function layerRange([start, stop]: readonly [number, number]): string {
  return stop - start === 1 ? `${start}` : `${start}–${stop - 1}`;
}

/** Shards the stages do not list (no layer range reported): drawn apart. */
export function unplaced(pool: ShardPool): NodeView[] {
  const placed = new Set(pool.stages.flatMap((stage) => stage.nodes));
  return sortNodes(pool.nodes.filter((node) => !placed.has(node.node_id)));
}
