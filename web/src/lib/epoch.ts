/**
 * Qubic epochs: one week each, changing every Wednesday at 12:00 UTC (docs/reference/qubic-rpc.md §4.3, the same
 * rule as shared/qcl/analysis/epochs.py); the network halts for minutes up to an hour at the change.
 */

const WEEK_MS = 7 * 24 * 3600 * 1000;
const WEDNESDAY = 3; // Date.getUTCDay()
const TRANSITION_HOUR_UTC = 12;

/** The last epoch transition at or before `at`. */
export function previousTransition(at: Date): Date {
  const candidate = new Date(
    Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate(), TRANSITION_HOUR_UTC, 0, 0, 0),
  );
  const daysBack = (candidate.getUTCDay() - WEDNESDAY + 7) % 7;
  candidate.setUTCDate(candidate.getUTCDate() - daysBack);
  if (candidate.getTime() > at.getTime()) candidate.setUTCDate(candidate.getUTCDate() - 7);
  return candidate;
}

/** The next epoch transition strictly after `at`. */
export function nextTransition(at: Date): Date {
  return new Date(previousTransition(at).getTime() + WEEK_MS);
}

export interface EpochProgress {
  fraction: number; // 0 ≤ fraction < 1 of the week elapsed
  msToNext: number;
  next: Date;
}

export function epochProgress(at: Date): EpochProgress {
  const previous = previousTransition(at);
  const next = new Date(previous.getTime() + WEEK_MS);
  return {
    fraction: (at.getTime() - previous.getTime()) / WEEK_MS,
    msToNext: next.getTime() - at.getTime(),
    next,
  };
}
