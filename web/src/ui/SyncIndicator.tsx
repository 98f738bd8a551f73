/**
 * The live connection's state in the header: live, reconnecting (attempt n), offline with the last update time, or
 * "key refused" (the server closed the socket with 4401/4403; no retry until the key changes in Settings).
 */
import { Box, Tooltip, Typography } from '@mui/material';
import type { LiveSnapshot } from '../api/live';
import { formatTime } from '../lib/format';
import { useSettings } from '../state/settings';
import { useSyncState } from '../state/live';

const DOT: Record<LiveSnapshot['state'], string> = {
  live: 'success.main',
  connecting: 'info.main',
  reconnecting: 'warning.main',
  offline: 'error.main',
  refused: 'error.main',
};

export function SyncIndicator() {
  const { t, language } = useSettings();
  const sync = useSyncState();
  const last = sync.lastUpdate === null ? t('sync.never') : t('sync.lastUpdate', { time: formatTime(sync.lastUpdate, language) });
  const label = sync.state === 'reconnecting' ? t('sync.reconnecting', { attempt: sync.attempt }) : t(`sync.${sync.state}`);
  const tooltip = sync.state === 'refused' ? t('sync.refusedHint', { reason: sync.refusal ?? '—' }) : last;
  return (
    <Tooltip title={tooltip}>
      <Box
        role="status"
        aria-live="polite"
        data-testid="sync-state"
        data-state={sync.state}
        tabIndex={0}
        sx={{
          display: 'flex',
          alignItems: 'center',
          gap: 0.75,
          px: 1,
          py: 0.25,
          borderRadius: 4,
          bgcolor: 'background.paper',
          color: 'text.primary',
          border: 1,
          borderColor: 'divider',
          whiteSpace: 'nowrap',
        }}
      >
        <Box aria-hidden sx={{ width: 10, height: 10, borderRadius: '50%', bgcolor: DOT[sync.state], flexShrink: 0 }} />
        <Typography variant="body2" component="span">
          {label}
        </Typography>
        {sync.state !== 'live' && sync.state !== 'refused' && (
          <Typography variant="caption" component="span" sx={{ display: { xs: 'none', sm: 'inline' } }}>
            · {last}
          </Typography>
        )}
      </Box>
    </Tooltip>
  );
}
