/**
 * Nodes: the shard pool and oracle committee as a topology graph, the node table with state and last contact, and
 * node changes (joined, failed, recovered, left) as they happen over the live channel.
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
import type { NodeView, Topology } from '../api/types';
import { formatRelative, formatTime } from '../lib/format';
import { applyNodeView, sortNodes } from '../lib/nodes';
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

/** The topology with a node's new view applied to its group. */
function withNode(topology: Topology, view: NodeView): Topology {
  const key = view.role === 'shard' ? 'shard_pool' : 'oracle_committee';
  const nodes = applyNodeView(topology[key].nodes, view);
  return { ...topology, [key]: { nodes, total: nodes.length, up: nodes.filter((node) => node.state === 'up').length } };
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
          <TopologyGraph topology={topology.data} />
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
                      <TableCell>{t(`nodes.lastEvent.${node.last_event}`)}</TableCell>
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
