/**
 * Admin → Keys: every API key (name, role, scope, who created it and when, revoked), a form that creates one (the key
 * is shown once, with a copy button: only its hash is stored), and revoke with a confirmation. Admin keys only: the
 * page asks /api/auth/whoami and says so to anyone else instead of calling admin routes.
 */
import {
  Alert,
  Box,
  Button,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  IconButton,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  TextField,
  Tooltip,
} from '@mui/material';
import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { api } from '../api/endpoints';
import type { KeyCreated, KeyView, Role } from '../api/types';
import { formatDateTime } from '../lib/format';
import { asApiError, useApi } from '../lib/useApi';
import { useIsAdmin } from '../state/admin';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { ConfirmDialog } from '../ui/ConfirmDialog';
import { EmptyState } from '../ui/EmptyState';
import { CopyIcon } from '../ui/icons';
import { LabeledSelect } from '../ui/LabeledSelect';
import { LoadingBlock } from '../ui/Loading';
import { Panel } from '../ui/Panel';

const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

/** The form's scope fields as the API takes them: tags split on commas, expiry `days` from now (blank: none). */
export function scopeOf(tags: string, days: string, now: Date = new Date()): { tags: string[] | null; expires_at: string | null } {
  const names = tags
    .split(',')
    .map((tag) => tag.trim())
    .filter(Boolean);
  return {
    tags: names.length ? names : null,
    expires_at: days.trim() ? new Date(now.getTime() + Number(days) * 86_400_000).toISOString() : null,
  };
}

function CreateKey({ onCreated }: { onCreated: (key: KeyCreated) => void }) {
  const { t } = useSettings();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [tags, setTags] = useState('');
  const [days, setDays] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    api
      .createKey({ name: name.trim(), role, ...scopeOf(tags, days) })
      .then((created) => {
        setName('');
        setTags('');
        setDays('');
        onCreated(created);
      })
      .catch((caught: unknown) => setError(asApiError(caught)))
      .finally(() => setBusy(false));
  };

  return (
    <Box component="form" onSubmit={submit} data-testid="key-create" noValidate>
      <Stack direction={{ xs: 'column', md: 'row' }} spacing={2} sx={{ alignItems: { md: 'flex-start' } }}>
        <TextField
          size="small"
          label={t('keys.name')}
          value={name}
          onChange={(event) => setName(event.target.value)}
          required
          slotProps={{ htmlInput: { maxLength: 64, 'data-testid': 'key-name' } }}
        />
        <LabeledSelect id="key-role" label={t('keys.role')} value={role} options={ROLES} optionLabel={(r) => t(`keys.roles.${r}`)} onChange={setRole} minWidth={140} testId="key-role" />
        <TextField
          size="small"
          label={t('keys.tags')}
          helperText={t('keys.tagsHint')}
          value={tags}
          onChange={(event) => setTags(event.target.value)}
          slotProps={{ htmlInput: { 'data-testid': 'key-tags' } }}
        />
        <TextField
          size="small"
          type="number"
          label={t('keys.expiresDays')}
          helperText={t('keys.expiresHint')}
          value={days}
          onChange={(event) => setDays(event.target.value)}
          slotProps={{ htmlInput: { min: 1, 'data-testid': 'key-days' } }}
          sx={{ maxWidth: 180 }}
        />
        <Button type="submit" variant="contained" disabled={busy || !name.trim()} data-testid="key-create-submit" sx={{ whiteSpace: 'nowrap', flexShrink: 0 }}>
          {t('keys.create')}
        </Button>
      </Stack>
      {error && (
        <Box sx={{ mt: 2 }}>
          <ApiErrorAlert error={error} />
        </Box>
      )}
    </Box>
  );
}

/** The new key, once: the only time anyone sees it. */
function ShownOnce({ created, onClose }: { created: KeyCreated | null; onClose: () => void }) {
  const { t } = useSettings();
  const [copied, setCopied] = useState(false);
  return (
    <Dialog open={created !== null} onClose={onClose} fullWidth maxWidth="sm" aria-labelledby="key-created-title" data-testid="key-created">
      <DialogTitle id="key-created-title">{t('keys.createdTitle', { name: created?.name ?? '' })}</DialogTitle>
      <DialogContent>
        <DialogContentText sx={{ mb: 2 }}>{t('keys.createdHint')}</DialogContentText>
        <Stack direction="row" spacing={1} sx={{ alignItems: 'center' }}>
          <Box component="code" data-testid="key-secret" sx={{ flex: 1, p: 1, bgcolor: 'action.hover', borderRadius: 1, wordBreak: 'break-all', fontSize: 13 }}>
            {created?.key}
          </Box>
          <Tooltip title={copied ? t('keys.copied') : t('keys.copy')}>
            <IconButton
              aria-label={t('keys.copy')}
              data-testid="key-copy"
              onClick={() => void navigator.clipboard?.writeText(created?.key ?? '').then(() => setCopied(true))}
            >
              <CopyIcon />
            </IconButton>
          </Tooltip>
        </Stack>
        {copied && (
          <Alert severity="success" sx={{ mt: 1 }} data-testid="key-copied">
            {t('keys.copied')}
          </Alert>
        )}
      </DialogContent>
      <DialogActions>
        <Button
          onClick={() => {
            setCopied(false);
            onClose();
          }}
          data-testid="key-created-close"
        >
          {t('keys.done')}
        </Button>
      </DialogActions>
    </Dialog>
  );
}

function scopeText(key: KeyView, t: ReturnType<typeof useSettings>['t'], language: ReturnType<typeof useSettings>['language']): string {
  const parts = [key.tags?.length ? t('keys.scopeTags', { tags: key.tags.join(', ') }) : t('keys.scopeAll')];
  if (key.expires_at) parts.push(t('keys.scopeExpires', { at: formatDateTime(key.expires_at, language) }));
  return parts.join(' · ');
}

export function Keys() {
  const { t, language } = useSettings();
  const admin = useIsAdmin();
  const keys = useApi((signal) => api.keys({ signal }).then((body) => body.keys), [], { enabled: admin === true });
  const [created, setCreated] = useState<KeyCreated | null>(null);
  const [revoking, setRevoking] = useState<KeyView | null>(null);
  const [revokeError, setRevokeError] = useState<ApiError | null>(null);

  if (admin === null) return <LoadingBlock height={160} />;
  if (!admin) return <Alert severity="info" data-testid="admin-only">{t('admin.only')}</Alert>;

  const revoke = (key: KeyView) => {
    setRevoking(null);
    setRevokeError(null);
    api
      .revokeKey(key.id)
      .then(keys.reload)
      .catch((caught: unknown) => setRevokeError(asApiError(caught)));
  };

  return (
    <Stack spacing={2}>
      <Panel title={t('keys.createTitle')}>
        <CreateKey
          onCreated={(key) => {
            setCreated(key);
            keys.reload();
          }}
        />
      </Panel>
      <Panel title={t('keys.listTitle')}>
        {revokeError && <ApiErrorAlert error={revokeError} />}
        {keys.loading ? (
          <LoadingBlock height={160} />
        ) : keys.error && !keys.data ? (
          <ApiErrorAlert error={keys.error} onRetry={keys.reload} />
        ) : !keys.data?.length ? (
          <EmptyState title={t('keys.none')} />
        ) : (
          <TableContainer sx={{ overflowX: 'auto' }} tabIndex={0} role="region" aria-label={t('keys.listTitle')}>
            <Table size="small" sx={{ '& th, & td': { whiteSpace: 'nowrap' } }} data-testid="key-table">
              <TableHead>
                <TableRow>
                  <TableCell>{t('keys.col.id')}</TableCell>
                  <TableCell>{t('keys.name')}</TableCell>
                  <TableCell>{t('keys.role')}</TableCell>
                  <TableCell>{t('keys.col.scope')}</TableCell>
                  <TableCell>{t('keys.col.created')}</TableCell>
                  <TableCell>{t('keys.col.revoked')}</TableCell>
                  <TableCell />
                </TableRow>
              </TableHead>
              <TableBody>
                {keys.data.map((key) => (
                  <TableRow key={key.id} data-key={key.id} data-revoked={key.revoked_at ? 'true' : 'false'}>
                    <TableCell sx={{ fontFamily: 'monospace' }}>{key.id}</TableCell>
                    <TableCell>{key.name}</TableCell>
                    <TableCell>{t(`keys.roles.${key.role}`)}</TableCell>
                    <TableCell data-testid="key-scope">{scopeText(key, t, language)}</TableCell>
                    <TableCell>{t('keys.createdBy', { at: formatDateTime(key.created_at, language), by: key.created_by })}</TableCell>
                    <TableCell data-testid="key-revoked">{key.revoked_at ? formatDateTime(key.revoked_at, language) : '—'}</TableCell>
                    <TableCell>
                      {!key.revoked_at && (
                        <Button size="small" color="error" onClick={() => setRevoking(key)} data-testid="key-revoke">
                          {t('keys.revoke')}
                        </Button>
                      )}
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </TableContainer>
        )}
      </Panel>
      <ShownOnce created={created} onClose={() => setCreated(null)} />
      <ConfirmDialog
        open={revoking !== null}
        title={t('keys.revokeTitle', { name: revoking?.name ?? '', id: revoking?.id ?? '' })}
        text={t('keys.revokeText')}
        confirmLabel={t('keys.revoke')}
        danger
        onConfirm={() => revoking && revoke(revoking)}
        onCancel={() => setRevoking(null)}
      />
    </Stack>
  );
}
