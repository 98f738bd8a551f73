/**
 * Alerts: what fires now (GET /api/ops/alerts: severity, rule, summary, since when, where, the runbook, the analysis
 * findings of the same time, deliveries that failed), the history of state changes, and Alertmanager's silences
 * (GET /api/ops/silences) with the operator's form to silence a rule for a while and a button to expire one.
 *
 * Alerts are not on the live WebSocket, so the page polls every POLL_S seconds while the tab is visible. Without an
 * Alertmanager (`qcl up` without `--ops`) the silences route answers 503 alerting_unavailable: the panel says so
 * and stops asking, the alerts themselves still show.
 */
import { Alert, Box, Stack } from '@mui/material';
import { useState } from 'react';
import type { ApiError } from '../api/client';
import { api } from '../api/endpoints';
import type { Silence } from '../api/types';
import { alertingUnavailable, sortSilences } from '../lib/alerts';
import { asApiError, useApi } from '../lib/useApi';
import { useVisible } from '../lib/useVisible';
import { useCanOperate } from '../state/admin';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { EmptyState } from '../ui/EmptyState';
import { LoadingBlock } from '../ui/Loading';
import { Panel } from '../ui/Panel';
import { ActiveAlerts, AlertHistory, SilenceForm, SilenceTable } from './AlertPanels';

export const POLL_S = 15;
export const HISTORY_LIMIT = 100;

export function Alerts() {
  const { t } = useSettings();
  const visible = useVisible();
  const canOperate = useCanOperate();
  const alerts = useApi((signal) => api.alerts(HISTORY_LIMIT, { signal }), [], { refreshS: visible ? POLL_S : 0 });
  const [unavailable, setUnavailable] = useState(false);
  const silences = useApi(
    (signal) =>
      api.silences({ signal }).catch((failure: unknown) => {
        if (alertingUnavailable(asApiError(failure))) setUnavailable(true);
        throw failure;
      }),
    [],
    { refreshS: visible && !unavailable ? POLL_S : 0 },
  );

  const [preset, setPreset] = useState<{ name: string; generation: number }>({ name: '', generation: 0 });
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<ApiError | null>(null);

  const active = alerts.data?.active ?? [];
  const history = alerts.data?.history ?? [];

  async function expire(silence: Silence) {
    setBusy(true);
    setActionError(null);
    try {
      await api.expireSilence(silence.id);
      setNotice(t('alerts.expired', { id: silence.id }));
      silences.reload();
    } catch (failure) {
      setActionError(asApiError(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Stack spacing={2}>
      {canOperate === false && (
        <Alert severity="info" data-testid="viewer-note">
          {t('alerts.viewerNote')}
        </Alert>
      )}
      <Panel id="alerts-active" title={alerts.data ? t('alerts.activeCount', { count: active.length }) : t('alerts.active')}>
        {alerts.error && alerts.data && (
          <Box sx={{ mb: 2 }}>
            <ApiErrorAlert error={alerts.error} onRetry={alerts.reload} />
          </Box>
        )}
        {alerts.loading ? (
          <LoadingBlock height={160} />
        ) : alerts.error && !alerts.data ? (
          <ApiErrorAlert error={alerts.error} onRetry={alerts.reload} />
        ) : active.length === 0 ? (
          <EmptyState title={t('alerts.none')} hint={t('alerts.noneHint')} />
        ) : (
          <ActiveAlerts
            alerts={active}
            canOperate={canOperate === true && !unavailable}
            onSilence={(name) => setPreset((current) => ({ name, generation: current.generation + 1 }))}
          />
        )}
      </Panel>

      <Panel id="alerts-silences" title={t('alerts.silences')}>
        {unavailable ? (
          <Alert severity="info" data-testid="alerting-unavailable">
            {t('alerts.unavailable')}
          </Alert>
        ) : (
          <Stack spacing={2}>
            {canOperate && (
              <SilenceForm
                key={preset.generation}
                initialName={preset.name}
                focus={preset.generation > 0}
                onCreated={(id) => {
                  setNotice(t('alerts.created', { id }));
                  silences.reload();
                }}
              />
            )}
            {notice && (
              <Alert severity="success" onClose={() => setNotice(null)} data-testid="alerts-notice">
                {notice}
              </Alert>
            )}
            {actionError && <ApiErrorAlert error={actionError} />}
            {silences.loading ? (
              <LoadingBlock height={120} />
            ) : silences.error && !silences.data ? (
              <ApiErrorAlert error={silences.error} onRetry={silences.reload} />
            ) : (silences.data?.silences.length ?? 0) === 0 ? (
              <EmptyState title={t('alerts.noSilences')} />
            ) : (
              <SilenceTable silences={sortSilences(silences.data!.silences)} canOperate={canOperate === true} busy={busy} onExpire={(silence) => void expire(silence)} />
            )}
          </Stack>
        )}
      </Panel>

      <Panel id="alerts-history" title={t('alerts.history')}>
        {alerts.loading ? (
          <LoadingBlock height={160} />
        ) : alerts.error && !alerts.data ? null : history.length === 0 ? (
          <EmptyState title={t('alerts.noHistory')} />
        ) : (
          <AlertHistory history={history} />
        )}
      </Panel>
    </Stack>
  );
}
