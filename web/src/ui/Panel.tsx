/**
 * A titled card with an anchor id. When the URL's `focus` target names it (an insight source was clicked), it
 * scrolls into view, takes focus and is outlined for a moment, so the reader sees which evidence was meant.
 */
import { Card, CardContent, CardHeader } from '@mui/material';
import type { ReactNode } from 'react';
import { useHighlight } from './highlight';

export function Panel({
  id,
  title,
  action,
  children,
  minHeight,
}: {
  id?: string;
  title: string;
  action?: ReactNode;
  children: ReactNode;
  minHeight?: number;
}) {
  const highlighted = useHighlight(id);
  const headingId = id ? `${id}-title` : undefined;
  return (
    <Card
      id={id}
      component="section"
      aria-labelledby={headingId}
      tabIndex={-1}
      sx={{
        height: '100%',
        minHeight,
        outline: highlighted ? '3px solid' : 'none',
        outlineColor: 'primary.main',
        transition: 'outline-color 0.3s',
      }}
    >
      <CardHeader
        title={title}
        action={action}
        slotProps={{ title: { component: 'h2', variant: 'subtitle1', id: headingId, sx: { fontWeight: 600 } } }}
        sx={{ pb: 0, '& .MuiCardHeader-action': { alignSelf: 'center', m: 0 } }}
      />
      <CardContent>{children}</CardContent>
    </Card>
  );
}
