/**
 * The Jobs page's logic, apart from React: the batch form's prompts, which jobs may be cancelled or retried, the
 * resubmission of a job's payload, the queue by priority class, usage against quota, and the state changes worth
 * announcing.
 *
 *   parsePrompts('a\n\n b ')            // ['a', 'b']: one prompt a line, blank lines skipped
 *   retryRequest(job)                  // the same payload and options as a new job (the API has no retry route)
 */
import type { Job, JobRequest, JobState, KeyUsage, Priority, QuotaReport } from '../api/types';

export const PRIORITIES: readonly Priority[] = ['interactive', 'standard', 'batch', 'background'];
export const JOB_STATES: readonly JobState[] = ['queued', 'running', 'done', 'failed', 'cancelled', 'dead'];
export const MAX_JOB_TOKENS = 1024;
export const MAX_PROMPTS = 1000; // qcl.compute.jobs MAX_PROMPTS

export function parsePrompts(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

export function canCancel(job: Pick<Job, 'state'>): boolean {
  return job.state === 'queued' || job.state === 'running';
}

export function canRetry(job: Pick<Job, 'state'>): boolean {
  return job.state === 'failed' || job.state === 'dead';
}

export function isFinal(job: Pick<Job, 'state'>): boolean {
  return !canCancel(job);
}

/** A new job with a finished one's payload and options (POST /api/jobs); its deadline is not carried over. */
export function retryRequest(job: Job): JobRequest {
  const common = {
    max_tokens: job.max_tokens,
    temperature: job.temperature,
    stop: job.stop ?? [],
    priority: job.priority,
    max_attempts: job.max_attempts,
  };
  if (job.kind === 'chat') {
    return { kind: 'chat', messages: job.payload['messages'] as JobRequest['messages'], ...common } as JobRequest;
  }
  return { kind: 'completion', prompt: String(job.payload['prompt'] ?? ''), ...common } as JobRequest;
}

/** A batch of completion prompts as the operator's form gives it. */
export function batchRequest(prompts: string[], priority: Priority, maxTokens: number): JobRequest {
  return { kind: 'completion', prompts, priority, max_tokens: maxTokens } as JobRequest;
}

export interface ClassRow {
  priority: Priority;
  queued: number;
  running: number; // of the jobs this key can see (the API counts running jobs in total, not per class)
}

/** Waiting jobs per class from /api/quotas; running per class counted from the running jobs listed. */
export function queueByClass(depth: QuotaReport['queue'] | undefined, running: readonly Job[]): ClassRow[] {
  return PRIORITIES.map((priority) => ({
    priority,
    queued: depth?.[priority] ?? 0,
    running: running.filter((job) => job.state === 'running' && job.priority === priority).length,
  }));
}

export interface Meter {
  used: number | null; // null: the API does not report this use
  limit: number;
}

/** A key's use against its quota: tokens per minute (limit only), running jobs, tokens today, queued jobs. */
export function usageMeters(usage: KeyUsage): { tokensPerMinute: Meter; running: Meter; daily: Meter; queued: Meter } {
  const quota = usage.quota as Record<string, number | undefined>;
  return {
    tokensPerMinute: { used: null, limit: quota['tokens_per_minute'] ?? 0 },
    running: { used: usage.running, limit: quota['max_running'] ?? 0 },
    daily: { used: Math.round(usage.tokens_today), limit: quota['daily_tokens'] ?? 0 },
    queued: { used: usage.queued, limit: quota['max_queued'] ?? 0 },
  };
}

/** Percent of the limit used, 0–100 (a limit of 0 reads as full). */
export function percentUsed(meter: Meter): number {
  if (meter.used === null) return 0;
  if (meter.limit <= 0) return 100;
  return Math.min(100, (meter.used / meter.limit) * 100);
}

/** Jobs whose state differs between two lists (for the page's live announcement); new jobs are not changes. */
export function stateChanges(before: readonly Job[] | undefined, after: readonly Job[]): Job[] {
  if (!before) return [];
  const previous = new Map(before.map((job) => [job.id, job.state]));
  return after.filter((job) => previous.has(job.id) && previous.get(job.id) !== job.state);
}

/** Seconds a job ran (started → finished, or → now while running); null before it started. */
export function runSeconds(job: Pick<Job, 'started_at' | 'finished_at'>, nowS: number): number | null {
  if (job.started_at == null) return null;
  return Math.max(0, (job.finished_at ?? nowS) - job.started_at);
}

/** An id short enough for a table cell: its head and its tail (job ids start with their submission time, so the
 * jobs of one batch differ only at the end). */
export function shortId(id: string): string {
  return id.length > 14 ? `${id.slice(0, 4)}…${id.slice(-8)}` : id;
}
