/**
 * An insight's sources (the finding codes and metric names its text used, events.py AIInsight.sources) linked to the
 * place on the Overview that shows them, so "sources" are clickable and the reader lands on the evidence.
 */
import type { FindingCode } from '../api/types';

export type OverviewTarget =
  | 'card-health'
  | 'card-tick'
  | 'card-epoch'
  | 'card-quality'
  | 'card-supply'
  | 'chart-price'
  | 'findings';

export const FINDING_CODES: readonly FindingCode[] = [
  'tick_stall',
  'tick_rate_low',
  'empty_ticks_high',
  'tick_quality_drop',
  'price_crash',
  'price_spike',
  'price_trend',
  'supply_anomaly',
  'epoch_transition',
  'archive_lag',
  'data_gap',
  'data_invalid',
];

export function isFindingCode(source: string): source is FindingCode {
  return (FINDING_CODES as readonly string[]).includes(source);
}

/** Element id of a finding's row in the anomaly list. */
export function findingAnchor(code: FindingCode): string {
  return `finding-${code}`;
}

// First match wins: "empty_ticks" must reach quality before "tick" reaches the tick card.
const RULES: [RegExp, OverviewTarget][] = [
  [/price|market_cap/, 'chart-price'],
  [/quality|empty/, 'card-quality'],
  [/epoch/, 'card-epoch'],
  [/supply|burn|address/, 'card-supply'],
  [/health|status/, 'card-health'],
  [/tick|duration|rate|archive/, 'card-tick'],
];

/**
 * Where a source is shown: a finding that is in the current list → its row; any other source → the card or chart of
 * its metric; null when nothing on the page shows it.
 */
export function sourceTarget(source: string, presentFindings: ReadonlySet<string>): string | null {
  const name = source.trim().toLowerCase();
  if (isFindingCode(name) && presentFindings.has(name)) return findingAnchor(name);
  for (const [pattern, target] of RULES) if (pattern.test(name)) return target;
  return isFindingCode(name) ? 'findings' : null;
}
