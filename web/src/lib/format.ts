/** Formatting numbers, prices, durations and times for a locale. Pure functions; the UI passes its language. */
import type { Language } from '../api/types';

const cache = new Map<string, Intl.NumberFormat>();

function numberFormat(language: Language, options: Intl.NumberFormatOptions): Intl.NumberFormat {
  const key = `${language}|${JSON.stringify(options)}`;
  let format = cache.get(key);
  if (!format) {
    format = new Intl.NumberFormat(language, options);
    cache.set(key, format);
  }
  return format;
}

export function formatInteger(value: number, language: Language): string {
  return numberFormat(language, { maximumFractionDigits: 0 }).format(value);
}

/** A percentage given in percent (98.7 → "98.7%"); `signed` adds "+" to rises. */
export function formatPercent(value: number, language: Language, { signed = false, digits = 1 } = {}): string {
  return numberFormat(language, {
    style: 'percent',
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
    signDisplay: signed ? 'exceptZero' : 'auto',
  }).format(value / 100);
}

/**
 * A USD price. QUBIC trades around 1e-6 USD, so a fixed number of decimals would print 0.00: keep four significant
 * digits instead, in plain notation (never "1e-6").
 */
export function formatPrice(value: number, language: Language): string {
  return numberFormat(language, {
    style: 'currency',
    currency: 'USD',
    maximumSignificantDigits: 4,
    minimumSignificantDigits: 2,
  }).format(value);
}

/** Large amounts (supply, market cap): compact, e.g. "156.4T" / "156.4兆". */
export function formatCompact(value: number, language: Language): string {
  return numberFormat(language, { notation: 'compact', maximumFractionDigits: 1 }).format(value);
}

/** A short duration: milliseconds under a second (a workflow step), else as formatDuration. */
export function formatShortDuration(ms: number, language: Language): string {
  if (ms >= 1000) return formatDuration(ms, language);
  return numberFormat(language, { style: 'unit', unit: 'millisecond', unitDisplay: 'narrow' }).format(Math.round(Math.max(0, ms)));
}

/** A duration as its two largest units, e.g. "2d 4h", "5m 12s", localised by Intl units. */
export function formatDuration(ms: number, language: Language): string {
  const totalSeconds = Math.max(0, Math.floor(ms / 1000));
  const parts: [number, Intl.NumberFormatOptions['unit']][] = [
    [Math.floor(totalSeconds / 86400), 'day'],
    [Math.floor((totalSeconds % 86400) / 3600), 'hour'],
    [Math.floor((totalSeconds % 3600) / 60), 'minute'],
    [totalSeconds % 60, 'second'],
  ];
  const first = parts.findIndex(([amount]) => amount > 0);
  if (first === -1) return numberFormat(language, { style: 'unit', unit: 'second', unitDisplay: 'narrow' }).format(0);
  return parts
    .slice(first, first + 2)
    .filter(([amount]) => amount > 0)
    .map(([amount, unit]) => numberFormat(language, { style: 'unit', unit, unitDisplay: 'narrow' }).format(amount))
    .join(' ');
}

/** Time of day in UTC, HH:mm:ss (times on this dashboard are UTC, like the network's epoch clock). */
export function formatTime(iso: string | number | Date, language: Language, { seconds = true } = {}): string {
  return new Intl.DateTimeFormat(language, {
    hour: '2-digit',
    minute: '2-digit',
    second: seconds ? '2-digit' : undefined,
    hourCycle: 'h23',
    timeZone: 'UTC',
  }).format(new Date(iso));
}

/** Date and time in UTC with the zone named, e.g. "2025/11/12 14:03 UTC". */
export function formatDateTime(iso: string | number | Date, language: Language): string {
  const text = new Intl.DateTimeFormat(language, {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZone: 'UTC',
  }).format(new Date(iso));
  return `${text} UTC`;
}

/** "3 minutes ago" in the language; `now` is passed in so callers and tests control the clock. */
export function formatRelative(iso: string | number | Date, now: number, language: Language): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const format = new Intl.RelativeTimeFormat(language, { numeric: 'auto' });
  const abs = Math.abs(seconds);
  if (abs < 60) return format.format(seconds, 'second');
  if (abs < 3600) return format.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return format.format(Math.round(seconds / 3600), 'hour');
  return format.format(Math.round(seconds / 86400), 'day');
}
