/**
 * The Workflows page's logic, apart from React: the run form's JSON argument, which executions are still going,
 * and a step's place in the timeline.
 *
 *   parseArgument('{"epoch": 190}')   // { ok: true, value: { epoch: 190 } }
 *   parseArgument('{')               // { ok: false, message: "…" }: the run button stays off and says why
 */
import type { Execution, ExecutionState, Step } from '../api/types';

export type Parsed = { ok: true; value: unknown } | { ok: false; message: string };

/** The run form's text as the execution's argument; blank means no argument (null). */
export function parseArgument(text: string): Parsed {
  if (!text.trim()) return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

export function isActive(execution: Pick<Execution, 'state'>): boolean {
  return execution.state === 'queued' || execution.state === 'running';
}

export const FINAL_EXECUTION_STATES: readonly ExecutionState[] = ['succeeded', 'failed', 'cancelled'];

/** Steps in the order they ran (the API lists finished steps; parallel branches interleave by start time). */
export function timeline(steps: readonly Step[]): Step[] {
  return [...steps].sort((a, b) => a.started_at - b.started_at || a.ended_at - b.ended_at);
}

/** Milliseconds a step took. */
export function stepMs(step: Pick<Step, 'started_at' | 'ended_at'>): number {
  return Math.max(0, (step.ended_at - step.started_at) * 1000);
}

/** A short one-line view of a JSON value for a table cell (the full value is one click away). */
export function preview(value: unknown, max = 80): string {
  if (value === null || value === undefined) return '—';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A starting argument for a workflow's run form (the bundled examples' shapes; others start empty). */
export function exampleArgument(name: string): string {
  if (name === 'question-batch') return JSON.stringify({ questions: ['Is the network healthy?'], language: 'en' }, null, 2);
  return '{}';
}
