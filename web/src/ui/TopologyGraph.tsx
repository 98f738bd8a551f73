/**
 * The shard pool and the oracle committee as two groups of nodes, each coloured by state (up, down, left), with how
 * many are up. The node table beside it carries the same facts as text. (The API does not report stages, layer
 * ranges or the committee's primary yet; the graph draws what it reports.)
 */
import { Box } from '@mui/material';
import { useTheme } from '@mui/material/styles';
import type { NodeState, NodeView, Topology, TopologyGroup } from '../api/types';
import { sortNodes } from '../lib/nodes';
import { useT } from '../state/settings';

const BOX_W = 150;
const BOX_H = 48;
const GAP = 14;
const PER_ROW = 4;
const TITLE_H = 26;

function rows(count: number): number {
  return Math.max(1, Math.ceil(count / PER_ROW));
}

export function TopologyGraph({ topology }: { topology: Topology }) {
  const theme = useTheme();
  const t = useT();
  const color = (state: NodeState) =>
    state === 'up' ? theme.palette.success.main : state === 'down' ? theme.palette.error.main : theme.palette.text.secondary;

  const groups: { key: 'shard' | 'oracle'; group: TopologyGroup }[] = [
    { key: 'shard', group: topology.shard_pool },
    { key: 'oracle', group: topology.oracle_committee },
  ];
  const width = PER_ROW * (BOX_W + GAP);
  let y = 0;
  const laidOut = groups.map(({ key, group }) => {
    const top = y;
    y += TITLE_H + rows(group.nodes.length) * (BOX_H + GAP) + 10;
    return { key, group, top };
  });
  const description = t('nodes.graphDescription', {
    shardsUp: topology.shard_pool.up,
    shards: topology.shard_pool.total,
    oraclesUp: topology.oracle_committee.up,
    oracles: topology.oracle_committee.total,
  });

  const node = (view: NodeView, index: number, top: number) => {
    const x = (index % PER_ROW) * (BOX_W + GAP);
    const boxTop = top + TITLE_H + Math.floor(index / PER_ROW) * (BOX_H + GAP);
    return (
      <g key={view.node_id} data-node={view.node_id} data-state={view.state}>
        <rect x={x + 2} y={boxTop} width={BOX_W} height={BOX_H} rx={8} fill={theme.palette.background.paper} stroke={color(view.state)} strokeWidth={3} />
        <text x={x + 12} y={boxTop + 20} fill={theme.palette.text.primary} fontSize={13}>
          {view.node_id.length > 18 ? `${view.node_id.slice(0, 17)}…` : view.node_id}
        </text>
        <text x={x + 12} y={boxTop + 38} fill={theme.palette.text.secondary} fontSize={12}>
          {t(`nodeState.${view.state}`)}
        </text>
      </g>
    );
  };

  return (
    <Box sx={{ overflowX: 'auto' }} tabIndex={0} role="region" aria-label={description}>
      <svg viewBox={`0 0 ${width} ${y}`} width="100%" style={{ minWidth: 420, maxWidth: width, maxHeight: 520 }} role="img" aria-label={description} data-testid="topology-graph">
        <title>{description}</title>
        {laidOut.map(({ key, group, top }) => (
          <g key={key}>
            <text x={2} y={top + 16} fill={theme.palette.text.primary} fontSize={14} fontWeight={600}>
              {t(`nodes.group.${key}`, { up: group.up, total: group.total })}
            </text>
            {group.nodes.length === 0 ? (
              <text x={2} y={top + TITLE_H + 20} fill={theme.palette.text.secondary} fontSize={13}>
                {t('nodes.groupEmpty')}
              </text>
            ) : (
              sortNodes(group.nodes).map((view, index) => node(view, index, top))
            )}
          </g>
        ))}
      </svg>
    </Box>
  );
}
