/**
 * Settings: language, theme, refresh interval, the API key (kept in this browser's localStorage only), keyboard
 * shortcuts, and the raw JSON of the latest report / insight / attestation in Monaco (editable for admins only).
 */
import {
  Box,
  Button,
  FormControl,
  IconButton,
  InputAdornment,
  InputLabel,
  MenuItem,
  Select,
  Stack,
  TextField,
  ToggleButton,
  ToggleButtonGroup,
  Typography,
} from '@mui/material';
import { useState, type FormEvent } from 'react';
import { api } from '../api/endpoints';
import { LANGUAGES } from '../i18n/translate';
import { useApi } from '../lib/useApi';
import { useSession } from '../state/session';
import { REFRESH_CHOICES_S, THEME_CHOICES, useSettings, type ThemeChoice } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { EmptyState } from '../ui/EmptyState';
import { KeyboardIcon, VisibilityIcon, VisibilityOffIcon } from '../ui/icons';
import { JsonEditorPanel } from '../ui/JsonViewer';
import { Panel } from '../ui/Panel';
import { openShortcutHelp } from '../ui/ShortcutsDialog';
import { LoadingBlock } from '../ui/Loading';
import { LabeledSelect } from '../ui/LabeledSelect';

type JsonSource = 'report' | 'insight' | 'attestation';
const JSON_SOURCES: readonly JsonSource[] = ['report', 'insight', 'attestation'];

function loadJson(source: JsonSource, signal: AbortSignal): Promise<unknown> {
  if (source === 'report') return api.latestAnalysis({ signal });
  if (source === 'insight') return api.insights(1, { signal }).then((body) => body.insights[0] ?? null);
  return api.attestations({ signal }).then((body) => body.results[0] ?? null);
}

function ApiKeyForm() {
  const { t, apiKey, setApiKey } = useSettings();
  const session = useSession();
  const [draft, setDraft] = useState('');
  const [visible, setVisible] = useState(false);
  function save(event: FormEvent) {
    event.preventDefault();
    setApiKey(draft);
    setDraft('');
  }
  return (
    <Box component="form" onSubmit={save}>
      <Typography variant="body2" sx={{ mb: 1.5 }} data-testid="api-key-state">
        {apiKey
          ? t('settings.keySaved', { suffix: apiKey.slice(-4) })
          : session.status === 'signed-in'
            ? t('settings.sessionActive')
            : t('settings.keyMissing')}
      </Typography>
      {session.status === 'signed-in' && (
        <Button sx={{ mb: 1.5 }} onClick={() => void session.signOut()} data-testid="sign-out">
          {t('settings.signOut')}
        </Button>
      )}
      <Stack direction={{ xs: 'column', sm: 'row' }} spacing={1} sx={{ alignItems: { sm: 'flex-start' } }}>
        <TextField
          size="small"
          label={t('settings.apiKey')}
          type={visible ? 'text' : 'password'}
          value={draft}
          onChange={(event) => setDraft(event.target.value)}
          autoComplete="off"
          helperText={t('settings.apiKeyHelp')}
          sx={{ flex: 1 }}
          slotProps={{
            htmlInput: { spellCheck: false, 'data-testid': 'api-key-input' },
            input: {
              endAdornment: (
                <InputAdornment position="end">
                  <IconButton
                    onClick={() => setVisible(!visible)}
                    aria-label={visible ? t('settings.hideKey') : t('settings.showKey')}
                    edge="end"
                  >
                    {visible ? <VisibilityOffIcon /> : <VisibilityIcon />}
                  </IconButton>
                </InputAdornment>
              ),
            },
          }}
        />
        <Button type="submit" variant="contained" disabled={!draft.trim()}>
          {t('action.save')}
        </Button>
        <Button onClick={() => setApiKey(null)} disabled={!apiKey}>
          {t('settings.clearKey')}
        </Button>
      </Stack>
    </Box>
  );
}

function RawJson() {
  const { t } = useSettings();
  const [source, setSource] = useState<JsonSource>('report');
  const data = useApi((signal) => loadJson(source, signal), [source]);
  return (
    <Stack spacing={1.5}>
      <FormControl size="small" sx={{ maxWidth: 280 }}>
        <InputLabel id="json-source-label">{t('json.source')}</InputLabel>
        <Select labelId="json-source-label" label={t('json.source')} value={source} onChange={(event) => setSource(event.target.value as JsonSource)}>
          {JSON_SOURCES.map((value) => (
            <MenuItem key={value} value={value}>
              {t(`json.source.${value}`)}
            </MenuItem>
          ))}
        </Select>
      </FormControl>
      {data.loading ? (
        <LoadingBlock height={200} />
      ) : data.error ? (
        <ApiErrorAlert error={data.error} onRetry={data.reload} />
      ) : data.data == null ? (
        <EmptyState title={t('json.empty')} />
      ) : (
        <JsonEditorPanel key={source} value={data.data} label={t(`json.source.${source}`)} />
      )}
    </Stack>
  );
}

export function Settings() {
  const { t, language, setLanguage, theme, setTheme, refreshS, setRefreshS } = useSettings();
  return (
    <Box sx={{ display: 'grid', gap: 2, gridTemplateColumns: { xs: '1fr', md: 'repeat(2, minmax(0, 1fr))' } }}>
      <Panel title={t('settings.display')}>
        <Stack spacing={2.5}>
          <LabeledSelect
            id="language"
            label={t('settings.language')}
            value={language}
            options={LANGUAGES}
            optionLabel={(code) => t(`language.${code}`)}
            onChange={setLanguage}
            testId="language-select"
            languageOptions
          />
          <Box>
            <Typography variant="body2" id="theme-label" sx={{ mb: 0.5 }}>
              {t('settings.theme')}
            </Typography>
            <ToggleButtonGroup
              exclusive
              size="small"
              value={theme}
              aria-labelledby="theme-label"
              onChange={(_event, value: ThemeChoice | null) => value && setTheme(value)}
            >
              {THEME_CHOICES.map((choice) => (
                <ToggleButton key={choice} value={choice}>
                  {t(`theme.${choice}`)}
                </ToggleButton>
              ))}
            </ToggleButtonGroup>
          </Box>
          <FormControl size="small">
            <InputLabel id="refresh-label">{t('settings.refresh')}</InputLabel>
            <Select labelId="refresh-label" label={t('settings.refresh')} value={refreshS} onChange={(event) => setRefreshS(Number(event.target.value))}>
              {REFRESH_CHOICES_S.map((seconds) => (
                <MenuItem key={seconds} value={seconds}>
                  {seconds === 0 ? t('settings.refreshOff') : t('settings.refreshEvery', { seconds })}
                </MenuItem>
              ))}
            </Select>
          </FormControl>
          <Box>
            <Button startIcon={<KeyboardIcon />} onClick={openShortcutHelp}>
              {t('settings.shortcuts')}
            </Button>
          </Box>
        </Stack>
      </Panel>
      <Panel title={t('settings.access')}>
        <ApiKeyForm />
      </Panel>
      <Box sx={{ gridColumn: { md: '1 / -1' }, minWidth: 0 }}>
        <Panel title={t('settings.rawJson')}>
          <RawJson />
        </Panel>
      </Box>
    </Box>
  );
}
