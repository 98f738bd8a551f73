/** What a panel shows when there is nothing yet: a sentence that says so and, where useful, what to do. */
import { Box, Typography } from '@mui/material';
import type { ReactNode } from 'react';

export function EmptyState({ title, hint, action }: { title: string; hint?: string; action?: ReactNode }) {
  return (
    <Box sx={{ py: 3, px: 2, textAlign: 'center' }} data-testid="empty-state">
      <Typography variant="body1" sx={{ fontWeight: 500 }}>
        {title}
      </Typography>
      {hint && (
        <Typography variant="body2" color="text.secondary" sx={{ mt: 0.5 }}>
          {hint}
        </Typography>
      )}
      {action && <Box sx={{ mt: 1.5 }}>{action}</Box>}
    </Box>
  );
}
