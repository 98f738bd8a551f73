/**
 * Whether an insight is about the latest analysis report, or how much older its report is:
 *
 *     insightFreshness(insight.report_observed_at, latest.observed_at)  // {state: 'older', ageMs: 180000}
 *
 * `unknown` when either time is missing (an insight with no report, or no report loaded yet).
 */
export type Freshness = { state: 'current' } | { state: 'older'; ageMs: number } | { state: 'unknown' };

export function insightFreshness(reportObservedAt: string | null | undefined, latestObservedAt: string | null | undefined): Freshness {
  if (!reportObservedAt || !latestObservedAt) return { state: 'unknown' };
  const about = Date.parse(reportObservedAt);
  const latest = Date.parse(latestObservedAt);
  if (Number.isNaN(about) || Number.isNaN(latest)) return { state: 'unknown' };
  // A newer insight than the report loaded here (the report is refetched a moment later) also counts as current.
  return about >= latest ? { state: 'current' } : { state: 'older', ageMs: latest - about };
}

/** The age in whole minutes, as the Overview says it (at least 1: "0 min older" would read as current). */
export function ageMinutes(ageMs: number): number {
  return Math.max(1, Math.round(ageMs / 60_000));
}
