/** The Jobs and Workflows pages' pure logic: prompts, cancel / retry rules, resubmission, meters, JSON arguments. */
import { describe, expect, it } from 'vitest';
import { formatShortDuration } from '../../src/lib/format';
import { canCancel, canRetry, parsePrompts, percentUsed, retryRequest, shortId, stateChanges } from '../../src/lib/jobs';
import { parseArgument, timeline } from '../../src/lib/workflows';
import { execution, job } from '../e2e/mock/computeFixtures';

describe('jobs logic', () => {
  it('takes one prompt a line, skipping blank lines and trimming', () => {
    expect(parsePrompts(' a \n\n\tb\n   \n')).toEqual(['a', 'b']);
  });

  it('cancels only waiting or running jobs and retries only failed or dead ones', () => {
    const states = ['queued', 'running', 'done', 'failed', 'cancelled', 'dead'] as const;
    expect(states.filter((state) => canCancel({ state }))).toEqual(['queued', 'running']);
    expect(states.filter((state) => canRetry({ state }))).toEqual(['failed', 'dead']);
  });

  it('resubmits a chat job with its messages and options, without its deadline', () => {
    const messages = [{ role: 'user', content: 'hi' }];
    const chat = job('c1', 'failed', { kind: 'chat', payload: { messages }, deadline_at: 123, priority: 'standard', stop: ['\n'] });
    expect(retryRequest(chat)).toEqual({ kind: 'chat', messages, max_tokens: 32, temperature: 0, stop: ['\n'], priority: 'standard', max_attempts: 3 });
  });

  it('reads a meter with no reported use as empty and a zero limit as full', () => {
    expect(percentUsed({ used: null, limit: 10 })).toBe(0);
    expect(percentUsed({ used: 0, limit: 0 })).toBe(100);
    expect(percentUsed({ used: 30, limit: 10 })).toBe(100);
  });

  it('shortens an id to its head and tail, so the jobs of one batch stay apart', () => {
    expect(shortId('01a2420a4e0000000d119c3f1e468473')).toBe('01a2…1e468473');
    expect(shortId('01a2420a4e00000152d87dec0b84412')).not.toBe(shortId('01a2420a4e0000000d119c3f1e468473'));
    expect(shortId('job-running-1')).toBe('job-running-1');
  });

  it('finds state changes between two lists, not new jobs', () => {
    const before = [job('a', 'queued')];
    const after = [job('a', 'running'), job('b', 'queued')];
    expect(stateChanges(before, after).map((item) => item.id)).toEqual(['a']);
    expect(stateChanges(undefined, after)).toEqual([]);
  });
});

describe('workflows logic', () => {
  it('shows a step under a second in milliseconds, longer ones in seconds and minutes', () => {
    expect(formatShortDuration(250, 'en')).toBe('250ms');
    expect(formatShortDuration(61_000, 'en')).toBe('1m 1s');
  });

  it('reads a blank argument as null, JSON as its value, and says why other text is not JSON', () => {
    expect(parseArgument('  ')).toEqual({ ok: true, value: null });
    expect(parseArgument('{"epoch": 190}')).toEqual({ ok: true, value: { epoch: 190 } });
    const bad = parseArgument('{"epoch": ');
    expect(bad.ok).toBe(false);
  });

  it('orders steps by when they started', () => {
    const steps = execution('succeeded').steps;
    expect(timeline([...steps].reverse()).map((step) => step.step)).toEqual(['init', 'analyse', 'done']);
  });
});
