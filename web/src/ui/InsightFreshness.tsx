/**
 * Under the Overview's AI insight: which report it is about, and when that is not the latest one, how much older
 * it is and a button that asks the narrator for a narrative of the latest report (POST /api/tasks {kind:
 * "narration"}: the narrator narrates the newest report; the task is followed until done, then `onNarrated`
 * refetches the insights, while the live channel usually delivers the new narrative first).
 */
import { Alert, Button, CircularProgress, Stack, Typography } from '@mui/material';
import { useEffect, useRef, useState } from 'react';
import type { ApiError } from '../api/client';
import { api } from '../api/endpoints';
import type { Task } from '../api/types';
import { ageMinutes, insightFreshness } from '../lib/freshness';
import { formatTime } from '../lib/format';
import { isTerminal } from '../lib/tasks';
import { asApiError } from '../lib/useApi';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from './ApiErrorAlert';

const POLL_MS = 1500;

export function InsightFreshness({
  reportObservedAt,
  latestObservedAt,
  onNarrated,
}: {
  reportObservedAt: string | null | undefined;
  latestObservedAt: string | null | undefined;
  onNarrated: () => void;
}) {
  const { t, language } = useSettings();
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [failed, setFailed] = useState<Task | null>(null);
  const controller = useRef<AbortController | null>(null);
  useEffect(() => () => controller.current?.abort(), []);

  const freshness = insightFreshness(reportObservedAt, latestObservedAt);
  if (freshness.state === 'unknown' || !reportObservedAt) return null;
  const time = formatTime(reportObservedAt, language, { seconds: false });

  async function narrate() {
    controller.current?.abort();
    const current = new AbortController();
    controller.current = current;
    const { signal } = current;
    setRunning(true);
    setError(null);
    setFailed(null);
    try {
      let task = await api.submitTask({ kind: 'narration', language }, { signal });
      while (!isTerminal(task)) {
        await new Promise((done) => setTimeout(done, POLL_MS));
        if (signal.aborted) return;
        task = await api.task(task.id, { signal });
      }
      if (task.state === 'failed') setFailed(task);
      else onNarrated();
    } catch (failure) {
      if (!signal.aborted) setError(asApiError(failure));
    } finally {
      if (!signal.aborted) setRunning(false);
    }
  }

  return (
    <Stack spacing={1} sx={{ mt: 1, mb: 2 }} data-testid="insight-freshness" data-state={freshness.state}>
      {freshness.state === 'current' ? (
        <Typography variant="body2" color="text.secondary">
          {t('insight.about', { time })}
        </Typography>
      ) : (
        <>
          {/* A note, not an alert: its minutes change as reports come, and must not be announced each time. */}
          <Alert severity="info" variant="outlined" role="note">
            {t('insight.stale', { time, minutes: ageMinutes(freshness.ageMs) })}
          </Alert>
          <Button
            variant="outlined"
            size="small"
            onClick={() => void narrate()}
            disabled={running}
            startIcon={running ? <CircularProgress size={14} color="inherit" /> : undefined}
            sx={{ alignSelf: 'flex-start' }}
            data-testid="narrate-latest"
          >
            {running ? t('insight.narrating') : t('insight.narrateLatest')}
          </Button>
        </>
      )}
      {error && <ApiErrorAlert error={error} onRetry={() => void narrate()} />}
      {failed && (
        <Alert severity="warning">
          {t('insight.narrateFailed', { message: failed.error?.message ?? failed.error?.code ?? failed.state })}
        </Alert>
      )}
    </Stack>
  );
}
