/**
 * Nodes: the shard pool and oracle committee as a topology graph (which layers on which node, replicas, the
 * committee's primary), the node table (state, where each shard sits and its last heartbeat, each member's reputation
 * and exclusion, an operator's drain or restart), and node changes (joined, failed, recovered, left) as they happen
 * over the live channel. An admin key also gets each node's actions (drain, restart, remove), each after a
 * confirmation; a refusal (a range left uncovered, PBFT's n >= 3f+1) is shown as the API words it.
 */
import {
  Box,
  Button,
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
import { useEffect, useState } from 'react';
import type { ApiError } from '../api/client';
import { api } from '../api/endpoints';
import type { NodeAction, NodeView } from '../api/types';
import type { Translate } from '../i18n/translate';
import { formatRelative, formatTime } from '../lib/format';
import { applyNodeView, layerRange, sortNodes, withNode } from '../lib/nodes';
import { asApiError, useApi } from '../lib/useApi';
import { useNow } from '../lib/useNow';
import { useIsAdmin } from '../state/admin';
import { useLiveTopic, useResync } from '../state/live';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { ConfirmDialog } from '../ui/ConfirmDialog';
import { NodeStateChip } from '../ui/chips';
import { EmptyState } from '../ui/EmptyState';
import { LoadingBlock } from '../ui/Loading';
import { Panel } from '../ui/Panel';
import { TopologyGraph } from '../ui/TopologyGraph';

const EVENTS_KEPT = 30;
const SETTLING_POLL_MS = 2000;

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

const ACTIONS: readonly NodeAction[] = ['drain', 'restart', 'remove'];

/**
 * The actions that make sense for the node now (the API refuses the others with 409 anyway): none once removed, no
 * second drain, and no removal of an oracle member (a committee has exactly PBFT's 3f+1 members).
 */
function offered(node: NodeView): NodeAction[] {
  if (node.lifecycle === 'removed') return [];
  return ACTIONS.filter(
    (action) =>
      !(action === 'drain' && ['draining', 'drained', 'restarting'].includes(node.lifecycle)) &&
      !(action === 'remove' && node.role === 'oracle'),
  );
}

export function Nodes() {
  const { t, language, refreshS } = useSettings();
  const nodes = useApi((signal) => api.nodes({ signal }).then((body) => body.nodes), [], { refreshS });
  const topology = useApi((signal) => api.topology({ signal }), [], { refreshS });
  const [events, setEvents] = useState<{ view: NodeView; at: number }[]>([]);
  const now = useNow(5000);
  const admin = useIsAdmin() === true;
  const [asking, setAsking] = useState<{ node: NodeView; action: NodeAction } | null>(null);
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const [acting, setActing] = useState<string | null>(null); // the node whose action is in flight

  // A drain or restart under way changes state within seconds: follow it closely until it settles.
  const settling = (nodes.data ?? []).some((node) => node.lifecycle === 'draining' || node.lifecycle === 'restarting');
  const reloadNodes = nodes.reload;
  useEffect(() => {
    if (!settling) return;
    const timer = window.setInterval(reloadNodes, SETTLING_POLL_MS);
    return () => window.clearInterval(timer);
  }, [settling, reloadNodes]);

  const act = ({ node, action }: { node: NodeView; action: NodeAction }) => {
    setAsking(null);
    setActionError(null);
    setActing(node.node_id); // a restart waits for the old process to stop: seconds
    api
      .nodeAction(node.node_id, action)
      .then((result) => {
        nodes.setData((current) => (current ?? []).map((n) => (n.node_id === result.node_id ? { ...n, lifecycle: result.lifecycle } : n)));
        nodes.reload();
      })
      .catch((caught: unknown) => setActionError(asApiError(caught)))
      .finally(() => setActing(null));
  };

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
          {actionError && (
            <Box sx={{ mb: 2 }} data-testid="node-action-error">
              <ApiErrorAlert error={actionError} />
            </Box>
          )}
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
                    <TableCell>{t('nodes.col.lifecycle')}</TableCell>
                    {admin && <TableCell>{t('nodes.col.actions')}</TableCell>}
                  </TableRow>
                </TableHead>
                <TableBody>
                  {list.map((node) => (
                    <TableRow key={node.node_id} data-node={node.node_id} data-state={node.state} data-lifecycle={node.lifecycle}>
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
                      <TableCell data-testid="node-lifecycle">{t(`nodes.lifecycle.${node.lifecycle}`)}</TableCell>
                      {admin && (
                        <TableCell>
                          {offered(node).map((action) => (
                            <Button
                              key={action}
                              size="small"
                              color={action === 'remove' ? 'error' : 'primary'}
                              onClick={() => setAsking({ node, action })}
                              disabled={acting === node.node_id}
                              data-testid={`node-${action}`}
                            >
                              {t(`nodes.action.${action}`)}
                            </Button>
                          ))}
                        </TableCell>
                      )}
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
      <ConfirmDialog
        open={asking !== null}
        title={asking ? t(`nodes.confirm.${asking.action}`, { node: asking.node.node_id }) : ''}
        text={asking ? t(`nodes.confirmText.${asking.action}`) : ''}
        confirmLabel={asking ? t(`nodes.action.${asking.action}`) : ''}
        danger={asking?.action === 'remove'}
        onConfirm={() => asking && act(asking)}
        onCancel={() => setAsking(null)}
      />
    </Stack>
  );
}
