/**
 * Oracle: attestations with their certificate (signers against the 2f + 1 quorum of the committee's size, view,
 * sequence, each member's signed observation), committed or unresolvable, and the committee's members. Raw JSON
 * opens in Monaco.
 */
import {
  Box,
  Button,
  Chip,
  Collapse,
  IconButton,
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
  Typography,
} from '@mui/material';
import { Fragment, useState } from 'react';
import { api } from '../api/endpoints';
import type { OracleResult } from '../api/types';
import { votes } from '../lib/oracle';
import { useApi } from '../lib/useApi';
import { useLiveTopic, useResync } from '../state/live';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { NodeStateChip, OracleStatusChip } from '../ui/chips';
import { EmptyState } from '../ui/EmptyState';
import { ExpandIcon } from '../ui/icons';
import { JsonDialog } from '../ui/JsonViewer';
import { LoadingBlock } from '../ui/Loading';
import { Panel } from '../ui/Panel';

const RESULT_SHOWN_CHARS = 40;

function shortResult(result: unknown): string {
  const text = typeof result === 'string' ? result : JSON.stringify(result);
  return text.length > RESULT_SHOWN_CHARS ? `${text.slice(0, RESULT_SHOWN_CHARS - 1)}…` : text;
}

function VoteChip({ record, committee }: { record: OracleResult; committee: number }) {
  const { t } = useSettings();
  const signers = record.certificate.map((signature) => signature.node_id);
  if (committee === 0) return <Chip size="small" label={t('oracle.signatureCount', { count: new Set(signers).size })} />;
  const tally = votes(signers, committee);
  return (
    <Chip
      size="small"
      color={tally.enough ? 'success' : 'warning'}
      label={t('oracle.voteCount', { count: tally.count, needed: tally.needed, n: committee })}
    />
  );
}

export function Oracle() {
  const { t, refreshS } = useSettings();
  const results = useApi((signal) => api.attestations({ signal }).then((body) => body.results), [], { refreshS });
  const topology = useApi((signal) => api.topology({ signal }), [], { refreshS });
  const [open, setOpen] = useState<string | null>(null);
  const [json, setJson] = useState<OracleResult | null>(null);

  useLiveTopic('oracle', (record) =>
    results.setData((current) => [record, ...(current ?? []).filter((item) => item.job_id !== record.job_id)]),
  );
  useLiveTopic('node', () => topology.reload());
  useResync(results.reload);

  const committee = topology.data?.oracle_committee;
  const members = committee?.nodes ?? [];

  return (
    <Stack spacing={2}>
      <Panel title={t('oracle.attestations')}>
        {results.loading ? (
          <LoadingBlock height={200} />
        ) : results.error && !results.data ? (
          <ApiErrorAlert error={results.error} onRetry={results.reload} />
        ) : !results.data?.length ? (
          <EmptyState title={t('oracle.none')} hint={t('oracle.noneHint')} />
        ) : (
          <TableContainer sx={{ overflowX: 'auto' }} tabIndex={0} role="region" aria-label={t('oracle.attestations')}>
            <Table size="small" sx={{ '& th, & td': { whiteSpace: 'nowrap' } }} aria-label={t('oracle.attestations')} data-testid="attestations">
              <TableHead>
                <TableRow>
                  <TableCell />
                  <TableCell>{t('oracle.col.job')}</TableCell>
                  <TableCell>{t('oracle.col.result')}</TableCell>
                  <TableCell>{t('oracle.col.status')}</TableCell>
                  <TableCell>{t('oracle.col.votes')}</TableCell>
                  <TableCell>{t('oracle.col.viewSequence')}</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {results.data.map((record) => {
                  const expanded = open === record.job_id;
                  return (
                    <Fragment key={record.job_id}>
                      <TableRow data-job={record.job_id}>
                        <TableCell padding="checkbox">
                          <IconButton
                            size="small"
                            aria-expanded={expanded}
                            aria-label={t('oracle.details', { job: record.spec.task })}
                            onClick={() => setOpen(expanded ? null : record.job_id)}
                          >
                            <ExpandIcon sx={{ transform: expanded ? 'rotate(180deg)' : 'none' }} />
                          </IconButton>
                        </TableCell>
                        <TableCell>
                          <Box component="span" sx={{ fontWeight: 500 }}>
                            {record.spec.task}
                          </Box>{' '}
                          <Box component="span" sx={{ fontFamily: 'monospace', color: 'text.secondary' }}>
                            {record.job_id.slice(0, 12)}
                          </Box>
                        </TableCell>
                        <TableCell sx={{ fontFamily: 'monospace' }}>
                          {record.status === 'unresolvable' ? '—' : shortResult(record.result)}
                        </TableCell>
                        <TableCell>
                          <OracleStatusChip status={record.status} />
                        </TableCell>
                        <TableCell>
                          <VoteChip record={record} committee={committee?.total ?? 0} />
                        </TableCell>
                        <TableCell>{t('oracle.viewSequence', { view: record.view, sequence: record.sequence })}</TableCell>
                      </TableRow>
                      <TableRow>
                        <TableCell colSpan={6} sx={{ py: 0, borderBottom: expanded ? undefined : 'none', whiteSpace: 'normal !important' }}>
                          <Collapse in={expanded} unmountOnExit>
                            <Box sx={{ py: 1.5, wordBreak: 'break-all' }}>
                              <Typography variant="body2">{t('oracle.jobId', { id: record.job_id })}</Typography>
                              <Typography variant="body2">
                                {t('oracle.kindSubject', { kind: t(`oracle.kind.${record.kind}`), subject: record.spec.subject ?? '—' })}
                              </Typography>
                              <Typography variant="body2">{t('oracle.digest', { digest: record.digest })}</Typography>
                              <Typography variant="body2" component="h3" sx={{ fontWeight: 600, mt: 1 }}>
                                {t('oracle.signers')}
                              </Typography>
                              <List dense disablePadding>
                                {record.certificate.map((signature) => (
                                  <ListItem key={signature.node_id} disableGutters>
                                    <ListItemText
                                      primary={signature.node_id}
                                      secondary={`${signature.signature.slice(0, 24)}…`}
                                      slotProps={{ secondary: { sx: { fontFamily: 'monospace' } } }}
                                    />
                                  </ListItem>
                                ))}
                              </List>
                              <Button size="small" onClick={() => setJson(record)}>
                                {t('json.view')}
                              </Button>
                            </Box>
                          </Collapse>
                        </TableCell>
                      </TableRow>
                    </Fragment>
                  );
                })}
              </TableBody>
            </Table>
          </TableContainer>
        )}
      </Panel>

      <Panel title={t('oracle.members', { up: committee?.up ?? 0, total: committee?.total ?? 0 })}>
        {topology.loading ? (
          <LoadingBlock height={100} />
        ) : topology.error && !topology.data ? (
          <ApiErrorAlert error={topology.error} onRetry={topology.reload} />
        ) : members.length === 0 ? (
          <EmptyState title={t('oracle.noMembers')} />
        ) : (
          <List dense>
            {members.map((node) => (
              <ListItem key={node.node_id} divider disableGutters secondaryAction={<NodeStateChip state={node.state} />}>
                <ListItemText primary={node.node_id} secondary={node.detail || undefined} />
              </ListItem>
            ))}
          </List>
        )}
      </Panel>
      <JsonDialog open={json !== null} title={t('json.attestationTitle', { job: json?.spec.task ?? '' })} value={json} onClose={() => setJson(null)} />
    </Stack>
  );
}
