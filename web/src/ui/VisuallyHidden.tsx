/** Text for screen readers only (e.g. an aria-live announcement that the table already shows visually). */
import { Box } from '@mui/material';
import type { ReactNode } from 'react';

const HIDDEN = { position: 'absolute', width: '1px', height: '1px', p: 0, m: '-1px', overflow: 'hidden', clip: 'rect(0 0 0 0)', whiteSpace: 'nowrap', border: 0 } as const;

/** Text read out by screen readers in place of what is shown (e.g. a count whose meaning the eye gets from colour). */
export function VisuallyHidden({ children }: { children: ReactNode }) {
  return (
    <Box component="span" sx={HIDDEN}>
      {children}
    </Box>
  );
}

export function LiveAnnouncement({ children, testId }: { children: ReactNode; testId?: string }) {
  return (
    <Box role="status" aria-live="polite" data-testid={testId} sx={HIDDEN}>
      {children}
    </Box>
  );
}
