import { describe, expect, it } from 'vitest';
import { epochProgress, nextTransition, previousTransition } from '../../src/lib/epoch';

const at = (iso: string) => new Date(iso);

describe('epoch transitions (Wednesdays 12:00 UTC)', () => {
  it('finds the epoch start of a Saturday (epoch 186 began Wed 2025-11-05 12:00 UTC)', () => {
    expect(previousTransition(at('2025-11-08T15:30:00Z')).toISOString()).toBe('2025-11-05T12:00:00.000Z');
  });

  it('on a Wednesday morning the next transition is the same day at noon', () => {
    expect(nextTransition(at('2025-11-12T10:00:00Z')).toISOString()).toBe('2025-11-12T12:00:00.000Z');
  });

  it('at noon exactly the transition has happened: the next is a week later', () => {
    expect(nextTransition(at('2025-11-12T12:00:00Z')).toISOString()).toBe('2025-11-19T12:00:00.000Z');
  });

  it('on a Wednesday afternoon the previous transition is the same day', () => {
    expect(previousTransition(at('2025-11-12T12:00:01Z')).toISOString()).toBe('2025-11-12T12:00:00.000Z');
  });

  it('crosses a month and year boundary', () => {
    expect(nextTransition(at('2025-12-29T00:00:00Z')).toISOString()).toBe('2025-12-31T12:00:00.000Z');
    expect(nextTransition(at('2025-12-31T13:00:00Z')).toISOString()).toBe('2026-01-07T12:00:00.000Z');
  });
});

describe('epochProgress', () => {
  it('is half way on Sunday at midnight UTC', () => {
    expect(epochProgress(at('2025-11-09T00:00:00Z')).fraction).toBeCloseTo(0.5, 10);
  });

  it('counts the time left to the next transition', () => {
    expect(epochProgress(at('2025-11-12T10:00:00Z')).msToNext).toBe(2 * 3600 * 1000);
  });

  it('starts at zero right at a transition', () => {
    expect(epochProgress(at('2025-11-12T12:00:00Z')).fraction).toBe(0);
  });
});
