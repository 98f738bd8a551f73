/** Text for screen readers only (e.g. an aria-live announcement that the table already shows visually). */
import { Box } from '@mui/material';
import type { ReactNode } from 'react';

export function LiveAnnouncement({ children, testId }: { children: ReactNode; testId?: string }) {
  return (
    <Box
      role="status"
      aria-live="polite"
      data-testid={testId}
      sx={{ position: 'absolute', width: '1px', height: '1px', p: 0, m: '-1px', overflow: 'hidden', clip: 'rect(0 0 0 0)', whiteSpace: 'nowrap', border: 0 }}
    >
      {children}
    </Box>
  );
}
