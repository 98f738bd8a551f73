/**
 * The navigation's count of active alerts: GET /api/ops/alerts every BADGE_POLL_S seconds while the tab is visible.
 * A page-severity alert turns it red. Nothing is shown with no alert, no key, or when the route fails (a key that
 * may not read it, an older API): the badge is a hint, the Alerts page explains errors.
 */
import { Chip } from '@mui/material';
import { api } from '../api/endpoints';
import { alertCounts } from '../lib/alerts';
import { useApi } from '../lib/useApi';
import { useVisible } from '../lib/useVisible';
import { useSettings } from '../state/settings';
import { VisuallyHidden } from './VisuallyHidden';

export const BADGE_POLL_S = 15;

export type AlertCounts = { total: number; page: number };

/** The active alerts' counts; null while unknown or when they cannot be read. */
export function useAlertCounts(): AlertCounts | null {
  const { apiKey } = useSettings();
  const visible = useVisible();
  const alerts = useApi((signal) => api.alerts(1, { signal }), [apiKey], {
    enabled: Boolean(apiKey),
    refreshS: visible ? BADGE_POLL_S : 0,
  });
  if (!apiKey || alerts.error || !alerts.data) return null;
  return alertCounts(alerts.data.active);
}

export function AlertsBadge({ counts }: { counts: AlertCounts | null }) {
  const { t } = useSettings();
  if (!counts || counts.total === 0) return null;
  return (
    <span data-testid="alerts-badge" data-page={counts.page > 0}>
      <Chip
        size="small"
        color={counts.page > 0 ? 'error' : 'warning'}
        label={counts.total}
        aria-hidden
        sx={{ height: 20, fontWeight: 700, '& .MuiChip-label': { px: 0.75 } }}
      />
      <VisuallyHidden>{t('alerts.badge', { total: counts.total, page: counts.page })}</VisuallyHidden>
    </span>
  );
}
