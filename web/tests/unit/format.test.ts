import { describe, expect, it } from 'vitest';
import {
  formatCompact,
  formatDateTime,
  formatDuration,
  formatPercent,
  formatPrice,
  formatRelative,
  formatTime,
} from '../../src/lib/format';

describe('formatPrice', () => {
  it('keeps four significant digits of a sub-micro-dollar price in plain notation', () => {
    expect(formatPrice(9.1234e-7, 'en')).toBe('$0.0000009123');
  });

  it('never prints an exponent', () => {
    expect(formatPrice(1.5e-9, 'en')).not.toMatch(/e/i);
  });

  it('writes the currency the Taiwanese way in zh-TW', () => {
    expect(formatPrice(0.5, 'zh-TW')).toBe('US$0.50');
  });
});

describe('formatPercent', () => {
  it('takes a value in percent, not a fraction', () => {
    expect(formatPercent(98.7032, 'en', { digits: 2 })).toBe('98.70%');
  });

  it('signs rises when asked', () => {
    expect(formatPercent(0.6, 'en', { signed: true })).toBe('+0.6%');
  });

  it('signs falls always', () => {
    expect(formatPercent(-2.4, 'en', { signed: true })).toBe('-2.4%');
  });
});

describe('formatDuration', () => {
  it('shows the two largest non-zero units', () => {
    expect(formatDuration(((2 * 24 + 4) * 3600 + 5 * 60) * 1000, 'en')).toBe('2d 4h');
  });

  it('skips a zero second unit', () => {
    expect(formatDuration(3 * 3600 * 1000, 'en')).toBe('3h');
  });

  it('shows seconds for short spans', () => {
    expect(formatDuration(42_000, 'en')).toBe('42s');
  });

  it('clamps negative spans to zero', () => {
    expect(formatDuration(-5000, 'en')).toBe('0s');
  });
});

describe('times', () => {
  it('formats times in UTC whatever the machine zone', () => {
    expect(formatTime('2025-11-12T23:05:09Z', 'en')).toBe('23:05:09');
  });

  it('names UTC after a date and time', () => {
    expect(formatDateTime('2025-11-12T09:52:00Z', 'en')).toBe('11/12/2025, 09:52 UTC');
  });

  it('says how long ago in the language', () => {
    const now = Date.parse('2025-11-12T10:00:00Z');
    expect(formatRelative('2025-11-12T09:57:00Z', now, 'en')).toBe('3 minutes ago');
    expect(formatRelative('2025-11-12T09:57:00Z', now, 'zh-TW')).toBe('3 分鐘前');
  });
});

describe('formatCompact', () => {
  it('uses the language’s large-number words', () => {
    expect(formatCompact(156_381_204_887_512, 'zh-TW')).toBe('156.4兆');
    expect(formatCompact(156_381_204_887_512, 'en')).toBe('156.4T');
  });
});
