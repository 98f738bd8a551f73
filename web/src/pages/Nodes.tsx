/**
 * Nodes: the shard pool and oracle committee as a topology graph, the node table with health and heartbeats, and
 * node events (joined, failed, recovered, left) as they happen over the live channel.
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
import type { NodeEvent } from '../api/types';
import { formatPercent, formatRelative, formatTime } from '../lib/format';
import { applyNodeEvent, sortNodes } from '../lib/nodes';
import { useApi } from '../lib/useApi';
import { useNow } from '../lib/useNow';
import { useLiveTopic, useResync } from '../state/live';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { NodeStatusChip } from '../ui/chips';
import { EmptyState } from '../ui/EmptyState';
import { Panel } from '../ui/Panel';
import { TopologyGraph } from '../ui/TopologyGraph';
import { LoadingBlock } from '../ui/Loading';

const EVENTS_KEPT = 30;

export function Nodes() {
  const { t, language, refreshS } = useSettings();
  const nodes = useApi((signal) => api.nodes({ signal }).then((body) => body.nodes), [], { refreshS });
  const topology = useApi((signal) => api.topology({ signal }), [], { refreshS });
  const [events, setEvents] = useState<{ event: NodeEvent; at: string }[]>([]);
  const now = useNow(5000);

  useLiveTopic('node-events', (event) => {
    const at = new Date().toISOString();
    setEvents((current) => [{ event, at }, ...current].slice(0, EVENTS_KEPT));
    nodes.setData((current) => applyNodeEvent(current ?? [], event, at));
    topology.reload(); // replicas may have moved to cover a failed stage
  });
  useResync(() => {
    nodes.reload();
    topology.reload();
  });

  const list = sortNodes(nodes.data ?? []);
  const empty = !nodes.loading && !nodes.error && list.length === 0;

  return (
    <Stack spacing={2}>
      <Panel title={t('nodes.topology')} id="topology">
        {topology.loading || nodes.loading ? (
          <LoadingBlock height={220} />
        ) : topology.error?.kind === 'not_found' || (topology.data && !topology.data.stages.length && !topology.data.oracle) ? (
          <EmptyState title={t('nodes.noTopology')} hint={t('nodes.noTopologyHint')} />
        ) : topology.error && !topology.data ? (
          <ApiErrorAlert error={topology.error} onRetry={topology.reload} />
        ) : topology.data ? (
          <TopologyGraph topology={topology.data} nodes={list} />
        ) : null}
      </Panel>

      <Box sx={{ display: 'grid', gap: 2, gridTemplateColumns: { xs: '1fr', lg: '2fr 1fr' } }}>
        <Panel title={t('nodes.table')}>
          {nodes.loading ? (
            <LoadingBlock height={160} />
          ) : nodes.error && !nodes.data ? (
            nodes.error.kind === 'not_found' ? (
              <EmptyState title={t('nodes.none')} hint={t('nodes.noTopologyHint')} />
            ) : (
              <ApiErrorAlert error={nodes.error} onRetry={nodes.reload} />
            )
          ) : empty ? (
            <EmptyState title={t('nodes.none')} hint={t('nodes.noTopologyHint')} />
          ) : (
            <TableContainer sx={{ overflowX: 'auto' }} tabIndex={0} role="region" aria-label={t('nodes.table')}>
              <Table size="small" sx={{ '& th, & td': { whiteSpace: 'nowrap' } }} aria-label={t('nodes.table')} data-testid="node-table">
                <TableHead>
                  <TableRow>
                    <TableCell>{t('nodes.col.node')}</TableCell>
                    <TableCell>{t('nodes.col.role')}</TableCell>
                    <TableCell>{t('nodes.col.status')}</TableCell>
                    <TableCell>{t('nodes.col.layers')}</TableCell>
                    <TableCell>{t('nodes.col.heartbeat')}</TableCell>
                    <TableCell>{t('nodes.col.loadOrReputation')}</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {list.map((node) => (
                    <TableRow key={node.node_id} data-node={node.node_id} data-status={node.status}>
                      <TableCell sx={{ fontFamily: 'monospace' }}>{node.node_id}</TableCell>
                      <TableCell>{t(`nodes.role.${node.role}`)}</TableCell>
                      <TableCell>
                        <NodeStatusChip status={node.status} />
                      </TableCell>
                      <TableCell>
                        {node.layers
                          ? t('nodes.layers', { stage: node.stage ?? '—', first: node.layers[0], last: node.layers[1] })
                          : '—'}
                      </TableCell>
                      <TableCell>
                        {node.last_heartbeat ? formatRelative(node.last_heartbeat, now, language) : t('nodes.never')}
                      </TableCell>
                      <TableCell>
                        {node.role === 'oracle'
                          ? node.reputation == null
                            ? '—'
                            : formatPercent(node.reputation * 100, language, { digits: 0 })
                          : node.load == null
                            ? '—'
                            : String(node.load)}
                      </TableCell>
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
              {events.map(({ event, at }, index) => (
                <ListItem key={`${at}-${index}`} divider disableGutters>
                  <ListItemText
                    primary={t(`nodes.event.${event.kind}`, { node: event.node_id })}
                    secondary={[formatTime(at, language), event.detail].filter(Boolean).join(' · ')}
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
