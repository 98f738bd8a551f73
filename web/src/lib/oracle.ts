/** PBFT arithmetic for showing certificates: n = 3f + 1 members tolerate f faults; a commit needs 2f + 1 votes. */

export function faultTolerance(committeeSize: number): number {
  return Math.max(0, Math.floor((committeeSize - 1) / 3));
}

export function quorum(committeeSize: number): number {
  return 2 * faultTolerance(committeeSize) + 1;
}

/** Distinct signers (a node signing twice still counts once) against the quorum. */
export function votes(signers: readonly string[], committeeSize: number): { count: number; needed: number; enough: boolean } {
  const count = new Set(signers).size;
  const needed = quorum(committeeSize);
  return { count, needed, enough: count >= needed };
}
