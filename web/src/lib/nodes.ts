/** Applying live node events to the node list (pure: state + event → state). */
import type { NodeEvent, NodeInfo, NodeStatus } from '../api/types';

const STATUS_AFTER: Record<NodeEvent['kind'], NodeStatus> = {
  joined: 'healthy',
  recovered: 'healthy',
  failed: 'failed',
  left: 'left',
};

export function applyNodeEvent(nodes: readonly NodeInfo[], event: NodeEvent, at: string): NodeInfo[] {
  const status = STATUS_AFTER[event.kind];
  const known = nodes.some((node) => node.node_id === event.node_id);
  if (!known) return [...nodes, { node_id: event.node_id, role: event.role, status, last_heartbeat: at }];
  return nodes.map((node) =>
    node.node_id === event.node_id
      ? { ...node, status, last_heartbeat: status === 'healthy' ? at : node.last_heartbeat }
      : node,
  );
}

/** Shards by stage then id, then oracle members by id: the order of the table and the graph. */
export function sortNodes(nodes: readonly NodeInfo[]): NodeInfo[] {
  return [...nodes].sort(
    (a, b) =>
      (a.role === b.role ? 0 : a.role === 'shard' ? -1 : 1) ||
      (a.stage ?? 0) - (b.stage ?? 0) ||
      a.node_id.localeCompare(b.node_id),
  );
}
