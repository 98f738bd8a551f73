/** The node list as live `node` messages change it (pure: state + message → state). */
import type { NodeView } from '../api/types';

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
