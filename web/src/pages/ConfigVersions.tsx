/**
 * Settings versions (admin): the runtime settings the API applies without a restart (rate limits, log level).
 * Change them (a new version), read who changed what and when, compare two versions, roll back to one (itself a
 * new version, after a confirmation). A refused value shows the API's message, which names the setting.
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
  MenuItem,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  TextField,
} from '@mui/material';
import { useState, type FormEvent } from 'react';
import type { ApiError } from '../api/client';
import { api } from '../api/endpoints';
import type { SettingsVersion } from '../api/types';
import { formatDateTime } from '../lib/format';
import { asApiError, useApi } from '../lib/useApi';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { LoadingBlock } from '../ui/Loading';
import { Panel } from '../ui/Panel';

type Values = SettingsVersion['values'];
type Name = keyof Values;
const NAMES: readonly Name[] = [
  'rate_limit_key_per_s',
  'rate_limit_key_burst',
  'rate_limit_ip_per_s',
  'rate_limit_ip_burst',
  'log_level',
];
const LOG_LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR'];

/** The form's text as the API wants it: numbers for the limits (a blank or non-number is sent as typed, and refused). */
function parsed(name: Name, text: string): unknown {
  if (name === 'log_level') return text;
  const number = Number(text);
  return text.trim() && Number.isFinite(number) ? number : text;
}

function ChangeForm({ current, onChanged }: { current: SettingsVersion; onChanged: () => void }) {
  const { t } = useSettings();
  const [draft, setDraft] = useState<Record<string, string>>({});
  const [error, setError] = useState<ApiError | null>(null);
  const value = (name: Name) => draft[name] ?? String(current.values[name]);
  const changes = Object.fromEntries(
    NAMES.filter((name) => value(name) !== String(current.values[name])).map((name) => [name, parsed(name, value(name))]),
  );
  async function save(event: FormEvent) {
    event.preventDefault();
    try {
      await api.changeSettings(changes);
      setDraft({});
      setError(null);
      onChanged();
    } catch (failure) {
      setError(asApiError(failure));
    }
  }
  return (
    <Box component="form" onSubmit={(event) => void save(event)}>
      <Stack spacing={1.5}>
        {NAMES.map((name) => (
          <TextField
            key={name}
            size="small"
            label={t(`versions.setting.${name}`)}
            value={value(name)}
            select={name === 'log_level'}
            error={error?.field === name}
            onChange={(event) => setDraft({ ...draft, [name]: event.target.value })}
            slotProps={{ htmlInput: { 'data-testid': `setting-${name}` } }}
          >
            {name === 'log_level' &&
              LOG_LEVELS.map((level) => (
                <MenuItem key={level} value={level}>
                  {level}
                </MenuItem>
              ))}
          </TextField>
        ))}
        {error && (
          <Alert severity="error" data-testid="settings-error">
            {error.message}
          </Alert>
        )}
        <Box>
          <Button type="submit" variant="contained" disabled={Object.keys(changes).length === 0} data-testid="settings-save">
            {t('versions.save')}
          </Button>
        </Box>
      </Stack>
    </Box>
  );
}

function Diff({ versions }: { versions: SettingsVersion[] }) {
  const { t } = useSettings();
  const last = versions.length - 1;
  const [from, setFrom] = useState(Math.max(0, last - 1));
  const [to, setTo] = useState(last);
  const diff = useApi((signal) => api.settingsDiff(from, to, { signal }), [from, to]);
  const pick = (label: string, value: number, set: (n: number) => void, testId: string) => (
    <TextField select size="small" label={label} value={value} onChange={(e) => set(Number(e.target.value))} sx={{ minWidth: 120 }} slotProps={{ htmlInput: { 'data-testid': testId } }}>
      {versions.map((version) => (
        <MenuItem key={version.version} value={version.version}>
          {t('versions.v', { version: version.version })}
        </MenuItem>
      ))}
    </TextField>
  );
  return (
    <Stack spacing={1.5}>
      <Stack direction="row" spacing={1}>
        {pick(t('versions.from'), from, setFrom, 'diff-from')}
        {pick(t('versions.to'), to, setTo, 'diff-to')}
      </Stack>
      {diff.error ? (
        <ApiErrorAlert error={diff.error} onRetry={diff.reload} />
      ) : diff.data && diff.data.changes.length === 0 ? (
        <Alert severity="info">{t('versions.same')}</Alert>
      ) : (
        <TableContainer tabIndex={0} role="region" aria-label={t('versions.diff')}>
          <Table size="small" data-testid="settings-diff">
            <TableHead>
              <TableRow>
                <TableCell>{t('versions.setting')}</TableCell>
                <TableCell>{t('versions.v', { version: from })}</TableCell>
                <TableCell>{t('versions.v', { version: to })}</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {(diff.data?.changes ?? []).map((change) => (
                <TableRow key={change.setting}>
                  <TableCell sx={{ fontFamily: 'monospace' }}>{change.setting}</TableCell>
                  <TableCell>{String(change.before)}</TableCell>
                  <TableCell>{String(change.after)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </TableContainer>
      )}
    </Stack>
  );
}

export function ConfigVersions() {
  const { t, language } = useSettings();
  const history = useApi((signal) => api.settingsVersions({ signal }), []);
  const [confirm, setConfirm] = useState<number | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  if (history.loading) return <LoadingBlock height={240} />;
  if (history.error || !history.data) return history.error ? <ApiErrorAlert error={history.error} onRetry={history.reload} /> : null;
  const { versions, current } = history.data;
  const currentVersion = versions.find((version) => version.version === current) ?? versions[versions.length - 1]!;
  async function rollback(version: number) {
    setConfirm(null);
    try {
      await api.rollbackSettings(version);
      setError(null);
      history.reload();
    } catch (failure) {
      setError(asApiError(failure));
    }
  }
  return (
    <Box sx={{ display: 'grid', gap: 2, gridTemplateColumns: { xs: '1fr', md: 'repeat(2, minmax(0, 1fr))' } }}>
      <Panel title={t('versions.current', { version: current })}>
        <ChangeForm key={current} current={currentVersion} onChanged={history.reload} />
      </Panel>
      <Panel title={t('versions.diff')}>
        <Diff key={versions.length} versions={versions} />
      </Panel>
      <Box sx={{ gridColumn: { md: '1 / -1' }, minWidth: 0 }}>
        <Panel title={t('versions.history')}>
          {error && <ApiErrorAlert error={error} />}
          <TableContainer tabIndex={0} role="region" aria-label={t('versions.history')}>
            <Table size="small" data-testid="settings-history">
              <TableHead>
                <TableRow>
                  <TableCell>{t('versions.version')}</TableCell>
                  <TableCell>{t('versions.at')}</TableCell>
                  <TableCell>{t('versions.by')}</TableCell>
                  <TableCell>{t('versions.changed')}</TableCell>
                  <TableCell />
                </TableRow>
              </TableHead>
              <TableBody>
                {[...versions].reverse().map((version) => (
                  <TableRow key={version.version} selected={version.version === current}>
                    <TableCell>{t('versions.v', { version: version.version })}</TableCell>
                    <TableCell sx={{ whiteSpace: 'nowrap' }}>{formatDateTime(version.at, language)}</TableCell>
                    <TableCell sx={{ fontFamily: 'monospace' }}>{version.by}</TableCell>
                    <TableCell sx={{ fontFamily: 'monospace' }}>
                      {version.rolled_back_to != null && `${t('versions.rolledBack', { version: version.rolled_back_to })} `}
                      {version.changed.join(', ')}
                    </TableCell>
                    <TableCell align="right">
                      {version.version !== current && (
                        <Button size="small" onClick={() => setConfirm(version.version)} data-testid={`rollback-${version.version}`}>
                          {t('versions.rollback')}
                        </Button>
                      )}
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </TableContainer>
        </Panel>
      </Box>
      <Dialog open={confirm !== null} onClose={() => setConfirm(null)}>
        <DialogTitle>{t('versions.rollbackTitle', { version: confirm ?? 0 })}</DialogTitle>
        <DialogContent>
          <DialogContentText>{t('versions.rollbackText', { version: confirm ?? 0 })}</DialogContentText>
        </DialogContent>
        <DialogActions>
          <Button onClick={() => setConfirm(null)}>{t('versions.keep')}</Button>
          <Button variant="contained" onClick={() => confirm !== null && void rollback(confirm)} data-testid="rollback-confirm">
            {t('versions.rollback')}
          </Button>
        </DialogActions>
      </Dialog>
    </Box>
  );
}
