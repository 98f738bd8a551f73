/**
 * Oracle: committed attestations with their certificate (signers, view, sequence, votes against the 2f + 1
 * quorum), whether the API verified the signatures, and each member's reputation. Raw JSON opens in Monaco.
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
import type { AttestationRecord } from '../api/types';
import { formatDateTime, formatPercent } from '../lib/format';
import { votes } from '../lib/oracle';
import { useApi } from '../lib/useApi';
import { useLiveTopic, useResync } from '../state/live';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { EmptyState } from '../ui/EmptyState';
import { ExpandIcon } from '../ui/icons';
import { JsonDialog } from '../ui/JsonViewer';
import { Panel } from '../ui/Panel';
import { LoadingBlock } from '../ui/Loading';

function VerificationChip({ verified }: { verified: boolean | null }) {
  const { t } = useSettings();
  if (verified === null) return <Chip size="small" label={t('oracle.unverified')} />;
  return verified ? (
    <Chip size="small" color="success" label={t('oracle.verified')} />
  ) : (
    <Chip size="small" color="error" label={t('oracle.invalid')} />
  );
}

export function Oracle() {
  const { t, language, refreshS } = useSettings();
  const results = useApi((signal) => api.attestations({ signal }).then((body) => body.results), [], { refreshS });
  const nodes = useApi((signal) => api.nodes({ signal }).then((body) => body.nodes), [], { refreshS });
  const [open, setOpen] = useState<string | null>(null);
  const [json, setJson] = useState<AttestationRecord | null>(null);

  useLiveTopic('oracle-results', (record) =>
    results.setData((current) => [record, ...(current ?? []).filter((item) => item.id !== record.id)]),
  );
  useResync(results.reload);

  const members = (nodes.data ?? []).filter((node) => node.role === 'oracle');

  return (
    <Stack spacing={2}>
      <Panel title={t('oracle.attestations')}>
        {results.loading ? (
          <LoadingBlock height={200} />
        ) : results.error && !results.data ? (
          results.error.kind === 'not_found' ? (
            <EmptyState title={t('oracle.none')} hint={t('oracle.noneHint')} />
          ) : (
            <ApiErrorAlert error={results.error} onRetry={results.reload} />
          )
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
                  <TableCell>{t('oracle.col.votes')}</TableCell>
                  <TableCell>{t('oracle.col.status')}</TableCell>
                  <TableCell>{t('oracle.col.time')}</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {results.data.map((record) => {
                  const tally = votes(
                    record.certificate.map((signature) => signature.node_id),
                    record.committee_size,
                  );
                  const expanded = open === record.id;
                  return (
                    <Fragment key={record.id}>
                      <TableRow>
                        <TableCell padding="checkbox">
                          <IconButton
                            size="small"
                            aria-expanded={expanded}
                            aria-label={t('oracle.details', { job: record.job_id })}
                            onClick={() => setOpen(expanded ? null : record.id)}
                          >
                            <ExpandIcon sx={{ transform: expanded ? 'rotate(180deg)' : 'none' }} />
                          </IconButton>
                        </TableCell>
                        <TableCell sx={{ fontFamily: 'monospace' }}>{record.job_id}</TableCell>
                        <TableCell>{record.result === null ? t('oracle.unresolvable') : String(record.result)}</TableCell>
                        <TableCell>
                          <Chip
                            size="small"
                            color={tally.enough ? 'success' : 'warning'}
                            label={t('oracle.voteCount', { count: tally.count, needed: tally.needed, n: record.committee_size })}
                          />
                        </TableCell>
                        <TableCell>
                          <VerificationChip verified={record.verified} />
                        </TableCell>
                        <TableCell>{formatDateTime(record.time, language)}</TableCell>
                      </TableRow>
                      <TableRow>
                        <TableCell colSpan={6} sx={{ py: 0, borderBottom: expanded ? undefined : 'none' }}>
                          <Collapse in={expanded} unmountOnExit>
                            <Box sx={{ py: 1.5 }}>
                              <Typography variant="body2">
                                {t('oracle.viewSequence', { view: record.view, sequence: record.sequence })}
                              </Typography>
                              <Typography variant="body2" sx={{ wordBreak: 'break-all' }}>
                                {t('oracle.digest', { digest: record.digest })}
                              </Typography>
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

      <Panel title={t('oracle.reputation')}>
        {nodes.loading ? (
          <LoadingBlock height={100} />
        ) : members.length === 0 ? (
          <EmptyState title={t('oracle.noMembers')} />
        ) : (
          <List dense>
            {members.map((node) => (
              <ListItem key={node.node_id} divider disableGutters>
                <ListItemText
                  primary={node.node_id}
                  secondary={t('oracle.reputationValue', {
                    value: node.reputation == null ? '—' : formatPercent(node.reputation * 100, language, { digits: 0 }),
                    status: t(`nodeStatus.${node.status}`),
                  })}
                />
              </ListItem>
            ))}
          </List>
        )}
      </Panel>
      <JsonDialog open={json !== null} title={t('json.attestationTitle', { job: json?.job_id ?? '' })} value={json} onClose={() => setJson(null)} />
    </Stack>
  );
}
