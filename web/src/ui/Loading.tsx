/** A loading placeholder with the shape of what is coming, announced to screen readers as "loading". */
import { Skeleton } from '@mui/material';
import { useT } from '../state/settings';

export function LoadingBlock({ height }: { height: number }) {
  const t = useT();
  return <Skeleton variant="rounded" height={height} role="progressbar" aria-label={t('state.loading')} aria-busy="true" />;
}
