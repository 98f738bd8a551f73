/**
 * The shard pool as columns of stages (each replica a box with its layer range, coloured by health, arrows in the
 * order hidden states flow) and the oracle committee as a row of members with the primary marked. The node table
 * beside it carries the same facts as text.
 */
import { Box } from '@mui/material';
import { useTheme } from '@mui/material/styles';
import type { NodeInfo, NodeStatus, Topology } from '../api/types';
import { useT } from '../state/settings';

const BOX_W = 150;
const BOX_H = 48;
const GAP_X = 60;
const GAP_Y = 14;

export function TopologyGraph({ topology, nodes }: { topology: Topology; nodes: NodeInfo[] }) {
  const theme = useTheme();
  const t = useT();
  const byId = new Map(nodes.map((node) => [node.node_id, node]));
  const color = (status: NodeStatus | undefined) =>
    status === 'healthy'
      ? theme.palette.success.main
      : status === 'degraded'
        ? theme.palette.warning.main
        : status === 'failed'
          ? theme.palette.error.main
          : theme.palette.text.secondary;

  const stages = [...topology.stages].sort((a, b) => a.stage - b.stage);
  const tallest = Math.max(1, ...stages.map((stage) => stage.replicas.length));
  const shardHeight = tallest * (BOX_H + GAP_Y) + 30;
  const members = topology.oracle?.members ?? [];
  const oracleTop = stages.length ? shardHeight + 20 : 10;
  const width = Math.max(stages.length * (BOX_W + GAP_X), members.length * 90, 300);
  const height = oracleTop + (members.length ? 90 : 0);
  const description = t('nodes.graphDescription', { stages: stages.length, members: members.length });

  return (
    <Box sx={{ overflowX: 'auto' }} tabIndex={0} role="region" aria-label={description}>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width="100%"
        style={{ minWidth: Math.min(width, 480), maxHeight: 480 }}
        role="img"
        aria-label={description}
        data-testid="topology-graph"
      >
        <title>{description}</title>
        {stages.map((stage, column) => {
          const x = column * (BOX_W + GAP_X);
          return (
            <g key={stage.stage}>
              <text x={x} y={16} fill={theme.palette.text.primary} fontSize={13} fontWeight={600}>
                {t('nodes.stageLabel', { stage: stage.stage, first: stage.layers[0], last: stage.layers[1] })}
              </text>
              {stage.replicas.map((id, row) => {
                const y = 26 + row * (BOX_H + GAP_Y);
                const node = byId.get(id);
                return (
                  <g key={id} data-node={id} data-status={node?.status ?? 'unknown'}>
                    <rect x={x} y={y} width={BOX_W} height={BOX_H} rx={8} fill={theme.palette.background.paper} stroke={color(node?.status)} strokeWidth={3} />
                    <text x={x + 10} y={y + 20} fill={theme.palette.text.primary} fontSize={13}>
                      {id}
                    </text>
                    <text x={x + 10} y={y + 38} fill={theme.palette.text.secondary} fontSize={12}>
                      {node ? t(`nodeStatus.${node.status}`) : t('nodes.unknown')}
                    </text>
                  </g>
                );
              })}
              {column < stages.length - 1 && (
                <path
                  d={`M ${x + BOX_W + 6} ${26 + BOX_H / 2} h ${GAP_X - 14} l -6 -5 m 6 5 l -6 5`}
                  stroke={theme.palette.text.secondary}
                  fill="none"
                  strokeWidth={2}
                />
              )}
            </g>
          );
        })}
        {members.length > 0 && (
          <g>
            <text x={0} y={oracleTop} fill={theme.palette.text.primary} fontSize={13} fontWeight={600}>
              {t('nodes.committeeLabel', { view: topology.oracle!.view, f: topology.oracle!.f })}
            </text>
            {members.map((id, index) => {
              const cx = 36 + index * 90;
              const cy = oracleTop + 42;
              const node = byId.get(id);
              const primary = id === topology.oracle!.primary;
              return (
                <g key={id} data-node={id} data-status={node?.status ?? 'unknown'}>
                  <circle cx={cx} cy={cy} r={24} fill={theme.palette.background.paper} stroke={color(node?.status)} strokeWidth={primary ? 5 : 3} />
                  <text x={cx} y={cy + 4} textAnchor="middle" fill={theme.palette.text.primary} fontSize={11}>
                    {id.length > 8 ? `${id.slice(0, 7)}…` : id}
                  </text>
                  {primary && (
                    <text x={cx} y={cy + 40} textAnchor="middle" fill={theme.palette.text.secondary} fontSize={11}>
                      {t('nodes.primary')}
                    </text>
                  )}
                </g>
              );
            })}
          </g>
        )}
      </svg>
    </Box>
  );
}
