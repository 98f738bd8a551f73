/**
 * Audit (admin): the hash-chained trail of privileged actions, filtered by actor and action, newest first, and a
 * button that checks the chain (GET /api/admin/audit/verify: ok, or the first entry edited, deleted or reordered).
 */
import {
  Alert,
  Box,
  Button,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  TextField,
} from '@mui/material';
import { useState } from 'react';
import type { ApiError } from '../api/client';
import { api } from '../api/endpoints';
import type { AuditVerdict } from '../api/types';
import { formatDateTime } from '../lib/format';
import { asApiError, useApi } from '../lib/useApi';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { EmptyState } from '../ui/EmptyState';
import { LoadingBlock } from '../ui/Loading';
import { Panel } from '../ui/Panel';

function VerifyChain() {
  const { t } = useSettings();
  const [verdict, setVerdict] = useState<AuditVerdict | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  async function verify() {
    setBusy(true);
    try {
      setVerdict(await api.verifyAudit());
      setError(null);
    } catch (failure) {
      setError(asApiError(failure));
    } finally {
      setBusy(false);
    }
  }
  return (
    <Stack spacing={1.5}>
      <Box>
        <Button variant="contained" onClick={() => void verify()} disabled={busy} data-testid="audit-verify">
          {t('audit.verify')}
        </Button>
      </Box>
      {error && <ApiErrorAlert error={error} />}
      {verdict && (
        <Alert severity={verdict.ok ? 'success' : 'error'} data-testid="audit-verdict">
          {verdict.ok
            ? t('audit.ok', { entries: verdict.entries, hash: (verdict.head_hash ?? '').slice(0, 16) })
            : t('audit.broken', { seq: verdict.broken_seq ?? '?', reason: verdict.reason ?? '' })}
        </Alert>
      )}
    </Stack>
  );
}

export function Audit() {
  const { t, language, refreshS } = useSettings();
  const [actor, setActor] = useState('');
  const [action, setAction] = useState('');
  const filter = { actor: actor.trim() || undefined, action: action.trim() || undefined };
  const trail = useApi((signal) => api.audit(filter, { signal }), [filter.actor, filter.action], { refreshS });
  const entries = [...(trail.data?.entries ?? [])].reverse();
  return (
    <Stack spacing={2}>
      <Panel title={t('audit.chain')}>
        <VerifyChain />
      </Panel>
      <Panel title={t('audit.entries')}>
        <Stack direction={{ xs: 'column', sm: 'row' }} spacing={1} sx={{ mb: 2 }}>
          <TextField size="small" label={t('audit.actor')} value={actor} onChange={(e) => setActor(e.target.value)} slotProps={{ htmlInput: { 'data-testid': 'audit-actor' } }} />
          <TextField size="small" label={t('audit.action')} value={action} onChange={(e) => setAction(e.target.value)} slotProps={{ htmlInput: { 'data-testid': 'audit-action' } }} />
        </Stack>
        {trail.loading ? (
          <LoadingBlock height={200} />
        ) : trail.error ? (
          <ApiErrorAlert error={trail.error} onRetry={trail.reload} />
        ) : entries.length === 0 ? (
          <EmptyState title={t('audit.empty')} />
        ) : (
          <TableContainer tabIndex={0} role="region" aria-label={t('audit.entries')}>
            <Table size="small" data-testid="audit-table">
              <TableHead>
                <TableRow>
                  <TableCell>#</TableCell>
                  <TableCell>{t('audit.at')}</TableCell>
                  <TableCell>{t('audit.actor')}</TableCell>
                  <TableCell>{t('audit.action')}</TableCell>
                  <TableCell>{t('audit.target')}</TableCell>
                  <TableCell>{t('audit.outcome')}</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {entries.map((entry) => (
                  <TableRow key={entry.seq}>
                    <TableCell>{entry.seq}</TableCell>
                    <TableCell sx={{ whiteSpace: 'nowrap' }}>{formatDateTime(entry.at, language)}</TableCell>
                    <TableCell sx={{ fontFamily: 'monospace' }}>{entry.actor}</TableCell>
                    <TableCell sx={{ fontFamily: 'monospace' }}>{entry.action}</TableCell>
                    <TableCell sx={{ fontFamily: 'monospace', wordBreak: 'break-all' }}>{entry.target ?? ''}</TableCell>
                    <TableCell>{entry.outcome}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </TableContainer>
        )}
      </Panel>
    </Stack>
  );
}
