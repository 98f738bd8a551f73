/**
 * The shard pool and the oracle committee as a picture.
 *
 * Shard pool: a ruler of the model's layers split into the pipeline's stages (widths in proportion to the layers
 * each holds), and under each stage the nodes serving it, one box per replica, coloured by state, with arrows for the
 * hidden states' way through the stages. Oracle committee: one box per member, the primary of the current view
 * marked, with its reputation and an "excluded" mark from the ledger. The node table beside it carries the same
 * facts as text.
 */
import { Box } from '@mui/material';
import { useTheme } from '@mui/material/styles';
import type { Committee, NodeState, NodeView, ShardPool } from '../api/types';
import { layerCount, layerRange, sortNodes, unplaced } from '../lib/nodes';
import { useT } from '../state/settings';

const WIDTH = 640;
const BOX_H = 46;
const GAP = 12;
const TITLE_H = 26;
const RULER_H = 26;
const STAGE_LABEL_H = 22;
const ARROW_W = 22;
const MEMBER_W = 148;
const MEMBER_H = 62;
// The viewBox leaves 4 px around the drawing for the outer half of the widest stroke.

function shortId(id: string, chars: number): string {
  return id.length > chars ? `${id.slice(0, chars - 1)}…` : id;
}

export function TopologyGraph({ pool, committee }: { pool: ShardPool; committee: Committee }) {
  const theme = useTheme();
  const t = useT();
  const color = (state: NodeState) =>
    state === 'up' ? theme.palette.success.main : state === 'down' ? theme.palette.error.main : theme.palette.text.secondary;
  const byId = new Map(pool.nodes.map((node) => [node.node_id, node]));
  const stray = unplaced(pool);

  // --- shard pool layout ---------------------------------------------------------------------------------------
  const stageCount = pool.stages.length;
  const columnW = stageCount ? (WIDTH - ARROW_W * (stageCount - 1)) / stageCount : WIDTH;
  const layers = layerCount(pool.stages);
  const replicas = Math.max(1, ...pool.stages.map((stage) => stage.nodes.length));
  const poolTop = 0;
  const rulerTop = poolTop + TITLE_H;
  const stagesTop = rulerTop + RULER_H + 8;
  const nodesTop = stagesTop + STAGE_LABEL_H;
  const poolBottom =
    stageCount === 0 && stray.length === 0
      ? nodesTop + 8
      : nodesTop + replicas * (BOX_H + GAP) + (stray.length ? BOX_H + GAP + STAGE_LABEL_H : 0);

  // --- committee layout -------------------------------------------------------------------------------------------
  const members = sortNodes(committee.nodes);
  const perRow = Math.max(1, Math.floor((WIDTH + GAP) / (MEMBER_W + GAP)));
  const committeeTop = poolBottom + 16;
  const membersTop = committeeTop + TITLE_H + (committee.primary ? STAGE_LABEL_H : 0);
  const height = membersTop + Math.max(1, Math.ceil(members.length / perRow)) * (MEMBER_H + GAP) + 4;

  const description = t('nodes.graphDescription', {
    shardsUp: pool.up,
    shards: pool.total,
    stages: stageCount,
    oraclesUp: committee.up,
    oracles: committee.total,
    primary: committee.primary ?? '—',
  });

  const shardBox = (node: NodeView, x: number, y: number, width: number) => (
    <g key={node.node_id} data-node={node.node_id} data-state={node.state} data-testid="graph-shard">
      <rect x={x} y={y} width={width} height={BOX_H} rx={8} fill={theme.palette.background.paper} stroke={color(node.state)} strokeWidth={3} />
      <text x={x + 10} y={y + 19} fill={theme.palette.text.primary} fontSize={13}>
        {shortId(node.node_id, Math.max(6, Math.floor(width / 8)))}
      </text>
      <text x={x + 10} y={y + 37} fill={theme.palette.text.secondary} fontSize={12}>
        {t(`nodeState.${node.state}`)}
        {node.shard ? ` · ${t('nodes.replica', { replica: node.shard.replica })}` : ''}
      </text>
    </g>
  );

  return (
    <Box sx={{ overflowX: 'auto' }} tabIndex={0} role="region" aria-label={description}>
      <svg
        viewBox={`-4 -2 ${WIDTH + 8} ${height + 4}`}
        width="100%"
        style={{ minWidth: 420, maxWidth: WIDTH }}
        role="img"
        aria-label={description}
        data-testid="topology-graph"
      >
        <title>{description}</title>
        <text x={0} y={poolTop + 16} fill={theme.palette.text.primary} fontSize={14} fontWeight={600}>
          {t('nodes.group.shard', { up: pool.up, total: pool.total })}
        </text>
        {stageCount === 0 && stray.length === 0 ? (
          <text x={0} y={rulerTop + 18} fill={theme.palette.text.secondary} fontSize={13}>
            {t('nodes.groupEmpty')}
          </text>
        ) : (
          <>
            {/* the model's layers, split into stages in proportion */}
            {pool.stages.map((stage) => {
              const x = layers ? (stage.layers[0] / layers) * WIDTH : 0;
              const width = layers ? ((stage.layers[1] - stage.layers[0]) / layers) * WIDTH : 0;
              return (
                <g key={`ruler-${stage.stage}`} data-testid="layer-range" data-stage={stage.stage}>
                  <rect x={x} y={rulerTop} width={Math.max(0, width - 2)} height={RULER_H - 6} rx={4} fill={theme.palette.action.selected} />
                  <text x={x + 6} y={rulerTop + 14} fill={theme.palette.text.primary} fontSize={11}>
                    {t('nodes.layers', { range: layerRange(stage.layers) })}
                  </text>
                </g>
              );
            })}
            {pool.stages.map((stage, index) => {
              const x = index * (columnW + ARROW_W);
              return (
                <g key={`stage-${stage.stage}`} data-testid="graph-stage" data-stage={stage.stage} data-up={stage.up}>
                  <text x={x} y={stagesTop + 14} fill={theme.palette.text.primary} fontSize={12} fontWeight={600}>
                    {t('nodes.stage', { stage: stage.stage, up: stage.up, total: stage.nodes.length })}
                  </text>
                  {stage.nodes.map((id, replica) => {
                    const node = byId.get(id);
                    return node ? shardBox(node, x, nodesTop + replica * (BOX_H + GAP), columnW) : null;
                  })}
                  {index < stageCount - 1 && (
                    <path
                      d={`M ${x + columnW + 4} ${nodesTop + BOX_H / 2} l ${ARROW_W - 10} 0 m -5 -5 l 5 5 l -5 5`}
                      stroke={theme.palette.text.secondary}
                      strokeWidth={2}
                      fill="none"
                      aria-hidden
                    />
                  )}
                </g>
              );
            })}
            {stray.length > 0 && (
              <g>
                <text x={0} y={nodesTop + replicas * (BOX_H + GAP) + 14} fill={theme.palette.text.secondary} fontSize={12}>
                  {t('nodes.unplaced')}
                </text>
                {stray.map((node, index) =>
                  shardBox(node, index * (MEMBER_W + GAP), nodesTop + replicas * (BOX_H + GAP) + STAGE_LABEL_H, MEMBER_W),
                )}
              </g>
            )}
          </>
        )}

        <text x={0} y={committeeTop + 16} fill={theme.palette.text.primary} fontSize={14} fontWeight={600}>
          {t('nodes.group.oracle', { up: committee.up, total: committee.total })}
        </text>
        {committee.primary && (
          <text x={0} y={committeeTop + TITLE_H + 14} fill={theme.palette.text.secondary} fontSize={12} data-testid="committee-view">
            {t('nodes.committeeView', {
              primary: committee.primary,
              view: committee.view ?? 0,
              sequence: committee.sequence ?? 0,
              quorum: committee.quorum ?? '—',
            })}
          </text>
        )}
        {members.length === 0 ? (
          <text x={0} y={membersTop + 18} fill={theme.palette.text.secondary} fontSize={13}>
            {t('nodes.groupEmpty')}
          </text>
        ) : (
          members.map((node, index) => {
            const x = (index % perRow) * (MEMBER_W + GAP);
            const y = membersTop + Math.floor(index / perRow) * (MEMBER_H + GAP);
            const member = node.oracle;
            const marks = [
              member?.primary ? t('nodes.primary') : null,
              member?.excluded ? t('nodes.excluded') : null,
            ].filter(Boolean);
            return (
              <g
                key={node.node_id}
                data-node={node.node_id}
                data-state={node.state}
                data-primary={member?.primary ? 'true' : 'false'}
                data-testid="graph-member"
              >
                <rect
                  x={x}
                  y={y}
                  width={MEMBER_W}
                  height={MEMBER_H}
                  rx={8}
                  fill={theme.palette.background.paper}
                  stroke={color(node.state)}
                  strokeWidth={member?.primary ? 5 : 3}
                  strokeDasharray={member?.excluded ? '6 4' : undefined}
                />
                <text x={x + 10} y={y + 19} fill={theme.palette.text.primary} fontSize={13} fontWeight={member?.primary ? 700 : 400}>
                  {shortId(node.node_id, 17)}
                </text>
                <text x={x + 10} y={y + 36} fill={theme.palette.text.secondary} fontSize={12}>
                  {t(`nodeState.${node.state}`)}
                  {member?.reputation != null ? ` · ${t('nodes.reputation', { score: member.reputation.toFixed(2) })}` : ''}
                </text>
                {marks.length > 0 && (
                  <text x={x + 10} y={y + 53} fill={member?.excluded ? theme.palette.error.main : theme.palette.text.primary} fontSize={12}>
                    {marks.join(' · ')}
                  </text>
                )}
              </g>
            );
          })
        )}
      </svg>
    </Box>
  );
}
