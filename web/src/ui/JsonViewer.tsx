/**
 * Raw JSON of a report, insight or attestation in Monaco: read-only unless the key in use is an admin's. The editor
 * chunk loads on first open (Suspense shows a skeleton meanwhile).
 */
import { Alert, Box, Button, Dialog, DialogActions, DialogContent, DialogTitle } from '@mui/material';
import { useTheme } from '@mui/material/styles';
import { lazy, Suspense, useState } from 'react';
import { useIsAdmin } from '../state/admin';
import { useSettings } from '../state/settings';
import { LoadingBlock } from './Loading';

const JsonEditor = lazy(() => import('./JsonEditor'));

export function JsonEditorPanel({ value, label }: { value: unknown; label: string }) {
  const { t } = useSettings();
  const theme = useTheme();
  const editable = useIsAdmin() === true;
  const original = JSON.stringify(value, null, 2);
  const [text, setText] = useState(original);
  const [copied, setCopied] = useState(false);
  let parseError: string | null = null;
  if (editable) {
    try {
      JSON.parse(text);
    } catch (error) {
      parseError = error instanceof Error ? error.message : String(error);
    }
  }
  return (
    <Box data-testid="json-viewer" data-readonly={String(!editable)}>
      <Alert severity={editable ? 'warning' : 'info'} sx={{ mb: 1 }}>
        {editable ? t('json.editable') : t('json.readOnly')}
      </Alert>
      <Suspense fallback={<LoadingBlock height={320} />}>
        <JsonEditor value={text} readOnly={!editable} dark={theme.palette.mode === 'dark'} label={label} onChange={setText} />
      </Suspense>
      {parseError && (
        <Alert severity="error" sx={{ mt: 1 }} role="alert">
          {t('json.invalid', { message: parseError })}
        </Alert>
      )}
      <Box sx={{ mt: 1, display: 'flex', gap: 1 }}>
        <Button
          size="small"
          onClick={() => {
            void navigator.clipboard?.writeText(text).then(() => setCopied(true));
          }}
        >
          {copied ? t('json.copied') : t('json.copy')}
        </Button>
        {editable && text !== original && (
          <Button size="small" onClick={() => setText(original)}>
            {t('json.reset')}
          </Button>
        )}
      </Box>
    </Box>
  );
}

export function JsonDialog({ open, title, value, onClose }: { open: boolean; title: string; value: unknown; onClose(): void }) {
  const { t } = useSettings();
  return (
    <Dialog open={open} onClose={onClose} fullWidth maxWidth="md" aria-labelledby="json-dialog-title">
      <DialogTitle id="json-dialog-title">{title}</DialogTitle>
      <DialogContent>{open && <JsonEditorPanel value={value} label={title} />}</DialogContent>
      <DialogActions>
        <Button onClick={onClose}>{t('action.close')}</Button>
      </DialogActions>
    </Dialog>
  );
}
