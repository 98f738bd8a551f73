/** Every failed API call shows this: what went wrong in the user's language, the server's words, the request id. */
import { Alert, AlertTitle, Box, Button, Link } from '@mui/material';
import type { ApiError } from '../api/client';
import { hrefFor } from '../lib/route';
import { formatDuration } from '../lib/format';
import { useSettings } from '../state/settings';

export function ApiErrorAlert({ error, onRetry }: { error: ApiError; onRetry?: () => void }) {
  const { t, language } = useSettings();
  const auth = error.kind === 'unauthorized' || error.kind === 'forbidden';
  return (
    <Alert
      severity={error.kind === 'not_found' ? 'info' : 'error'}
      role="alert"
      action={
        onRetry && !auth ? (
          <Button color="inherit" size="small" onClick={onRetry}>
            {t('action.retry')}
          </Button>
        ) : undefined
      }
    >
      <AlertTitle>{t(`errors.${error.kind}`)}</AlertTitle>
      {auth && (
        <Box component="p" sx={{ m: 0 }}>
          <Link href={hrefFor('settings')}>{t('errors.goToSettings')}</Link>
        </Box>
      )}
      {error.retryAfterS !== null && (
        <Box component="p" sx={{ m: 0 }}>
          {t('errors.retryAfter', { duration: formatDuration(error.retryAfterS * 1000, language) })}
        </Box>
      )}
      <Box component="p" sx={{ m: 0, wordBreak: 'break-word' }}>
        {error.field ? t('errors.detailWithField', { field: error.field, message: error.message }) : error.message}
      </Box>
      {error.requestId && (
        <Box component="p" sx={{ m: 0, fontSize: '0.8em', opacity: 0.9 }}>
          {t('errors.requestId', { id: error.requestId })}
        </Box>
      )}
    </Alert>
  );
}
