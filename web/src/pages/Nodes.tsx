/**
 * Nodes: the shard pool and oracle committee as a topology graph (which layers on which node, replicas, the
 * committee's primary), the node table (state, where each shard sits and its last heartbeat, each member's reputation
 * and exclusion), and node changes (joined, failed, recovered, left) as they happen over the live channel.
 */
import {
  Box,
  List,
  ListItem,
  ListItemText,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
} from '@mui/material';
import { useState } from 'react';
import { api } from '../api/endpoints';
import type { NodeView } from '../api/types';
import type { Translate } from '../i18n/translate';
import { formatRelative, formatTime } from '../lib/format';
import { applyNodeView, layerRange, sortNodes, withNode } from '../lib/nodes';
import { useApi } from '../lib/useApi';
import { useNow } from '../lib/useNow';
import { useLiveTopic, useResync } from '../state/live';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { NodeStateChip } from '../ui/chips';
import { EmptyState } from '../ui/EmptyState';
import { LoadingBlock } from '../ui/Loading';
import { Panel } from '../ui/Panel';
import { TopologyGraph } from '../ui/TopologyGraph';

const EVENTS_KEPT = 30;

/** Where a node sits: a shard's stage, replica and layers; a member's place in the committee and its marks. */
function placement(node: NodeView, t: Translate): string {
  if (node.shard) {
    const layers = node.shard.layers.map((range) => layerRange(range)).join(', ');
    const stage = node.shard.stage === null ? '' : `${t('nodes.stageShort', { stage: node.shard.stage })} · `;
    return `${stage}${t('nodes.replica', { replica: node.shard.replica })} · ${t('nodes.layers', { range: layers || '—' })}`;
  }
  if (node.oracle) {
    const marks = [
      t('nodes.memberIndex', { index: node.oracle.index }),
      node.oracle.primary ? t('nodes.primary') : null,
      node.oracle.excluded ? t('nodes.excluded') : null,
    ];
    return marks.filter(Boolean).join(' · ');
  }
  return '—';
}

export function Nodes() {
  const { t, language, refreshS } = useSettings();
  const nodes = useApi((signal) => api.nodes({ signal }).then((body) => body.nodes), [], { refreshS });
  const topology = useApi((signal) => api.topology({ signal }), [], { refreshS });
  const [events, setEvents] = useState<{ view: NodeView; at: number }[]>([]);
  const now = useNow(5000);

  useLiveTopic('node', (view) => {
    setEvents((current) => [{ view, at: Date.now() }, ...current].slice(0, EVENTS_KEPT));
    nodes.setData((current) => applyNodeView(current ?? [], view));
    topology.setData((current) => (current ? withNode(current, view) : current));
  });
  useResync(() => {
    nodes.reload();
    topology.reload();
  });

  const list = sortNodes(nodes.data ?? []);
  const noNodes = topology.data !== undefined && topology.data.shard_pool.total + topology.data.oracle_committee.total === 0;

  return (
    <Stack spacing={2}>
      <Panel title={t('nodes.topology')} id="topology">
        {topology.loading ? (
          <LoadingBlock height={220} />
        ) : topology.error && !topology.data ? (
          <ApiErrorAlert error={topology.error} onRetry={topology.reload} />
        ) : noNodes ? (
          <EmptyState title={t('nodes.noTopology')} hint={t('nodes.noTopologyHint')} />
        ) : topology.data ? (
          <TopologyGraph pool={topology.data.shard_pool} committee={topology.data.oracle_committee} />
        ) : null}
      </Panel>

      <Box sx={{ display: 'grid', gap: 2, gridTemplateColumns: { xs: '1fr', lg: '2fr 1fr' } }}>
        <Panel title={t('nodes.table')}>
          {nodes.loading ? (
            <LoadingBlock height={160} />
          ) : nodes.error && !nodes.data ? (
            <ApiErrorAlert error={nodes.error} onRetry={nodes.reload} />
          ) : list.length === 0 ? (
            <EmptyState title={t('nodes.none')} hint={t('nodes.noTopologyHint')} />
          ) : (
            <TableContainer sx={{ overflowX: 'auto' }} tabIndex={0} role="region" aria-label={t('nodes.table')}>
              <Table size="small" sx={{ '& th, & td': { whiteSpace: 'nowrap' } }} aria-label={t('nodes.table')} data-testid="node-table">
                <TableHead>
                  <TableRow>
                    <TableCell>{t('nodes.col.node')}</TableCell>
                    <TableCell>{t('nodes.col.role')}</TableCell>
                    <TableCell>{t('nodes.col.state')}</TableCell>
                    <TableCell>{t('nodes.col.placement')}</TableCell>
                    <TableCell>{t('nodes.col.address')}</TableCell>
                    <TableCell>{t('nodes.col.health')}</TableCell>
                    <TableCell>{t('nodes.col.lastEvent')}</TableCell>
                    <TableCell>{t('nodes.col.lastSeen')}</TableCell>
                    <TableCell>{t('nodes.col.detail')}</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {list.map((node) => (
                    <TableRow key={node.node_id} data-node={node.node_id} data-state={node.state}>
                      <TableCell sx={{ fontFamily: 'monospace' }}>{node.node_id}</TableCell>
                      <TableCell>{t(`nodes.role.${node.role}`)}</TableCell>
                      <TableCell>
                        <NodeStateChip state={node.state} />
                      </TableCell>
                      <TableCell data-testid="node-placement">{placement(node, t)}</TableCell>
                      <TableCell sx={{ fontFamily: 'monospace' }}>{node.shard?.address ?? '—'}</TableCell>
                      <TableCell data-testid="node-health">
                        {node.shard?.last_heartbeat
                          ? t('nodes.heartbeat', { age: formatRelative(node.shard.last_heartbeat, now, language) })
                          : node.oracle?.reputation != null
                            ? t('nodes.reputation', { score: node.oracle.reputation.toFixed(2) })
                            : '—'}
                      </TableCell>
                      <TableCell data-testid="node-last-event">{t(`nodes.lastEvent.${node.last_event}`)}</TableCell>
                      <TableCell>{formatRelative(node.last_seen, now, language)}</TableCell>
                      <TableCell>{node.detail || '—'}</TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            </TableContainer>
          )}
        </Panel>

        <Panel title={t('nodes.events')}>
          {events.length === 0 ? (
            <EmptyState title={t('nodes.noEvents')} hint={t('nodes.noEventsHint')} />
          ) : (
            <List dense aria-live="polite" data-testid="node-events">
              {events.map(({ view, at }, index) => (
                <ListItem key={`${at}-${index}`} divider disableGutters>
                  <ListItemText
                    primary={t(`nodes.event.${view.last_event}`, { node: view.node_id })}
                    secondary={[formatTime(view.last_seen, language), view.detail].filter(Boolean).join(' · ')}
                  />
                </ListItem>
              ))}
            </List>
          )}
        </Panel>
      </Box>
    </Stack>
  );
}
