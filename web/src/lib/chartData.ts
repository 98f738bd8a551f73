/**
 * Shaping analysis history into chart series: ordered, de-duplicated, cut to a window that ends at the LATEST
 * OBSERVATION (not the wall clock: a replayed capture lives in the past), and thinned to a drawable number of points.
 */
import type { AnalysisReport, NetworkMetrics } from '../api/types';

export type ChartWindow = '1h' | '24h';
export const WINDOW_MS: Record<ChartWindow, number> = { '1h': 3600_000, '24h': 86_400_000 };
export const MAX_POINTS = 400; // beyond this a 360 px wide canvas shows nothing more

export interface Point {
  x: number; // ms since epoch
  y: number;
}

export interface Series {
  points: Point[];
  start: number | null;
  end: number | null;
}

/** One value per observation time, in time order; the last report wins for a repeated time. */
export function metricPoints(reports: AnalysisReport[], pick: (metrics: NetworkMetrics) => number | null): Point[] {
  const byTime = new Map<number, number>();
  for (const report of reports) {
    if (!report.metrics) continue;
    const x = Date.parse(report.observed_at);
    const y = pick(report.metrics);
    if (Number.isNaN(x) || y === null || !Number.isFinite(y)) continue;
    byTime.set(x, y);
  }
  return [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([x, y]) => ({ x, y }));
}

/** Keep at most `max` points: one per equal-width time bucket (its last), always keeping the newest point. */
export function thin(points: Point[], max: number = MAX_POINTS): Point[] {
  if (points.length <= max) return points;
  const first = points[0]!.x;
  const last = points[points.length - 1]!.x;
  const width = (last - first) / max || 1;
  const buckets = new Map<number, Point>();
  for (const point of points) buckets.set(Math.min(max - 1, Math.floor((point.x - first) / width)), point);
  return [...buckets.values()];
}

/** The points of the last `window` up to the newest point. */
export function windowSeries(points: Point[], window: ChartWindow, max: number = MAX_POINTS): Series {
  if (points.length === 0) return { points: [], start: null, end: null };
  const end = points[points.length - 1]!.x;
  const start = end - WINDOW_MS[window];
  const inside = points.filter((point) => point.x > start);
  return { points: thin(inside, max), start, end };
}

/** How much history there is, so the UI offers 24 h only when it would show more than 1 h does. */
export function spanMs(points: Point[]): number {
  return points.length < 2 ? 0 : points[points.length - 1]!.x - points[0]!.x;
}

export function availableWindows(points: Point[]): ChartWindow[] {
  if (points.length === 0) return [];
  return spanMs(points) > WINDOW_MS['1h'] ? ['1h', '24h'] : ['1h'];
}

/** Merge a live report into a history (keeping time order and the window bounded). */
export function appendReport(history: AnalysisReport[], report: AnalysisReport, keepMs = WINDOW_MS['24h']): AnalysisReport[] {
  const time = Date.parse(report.observed_at);
  const kept = history.filter((item) => {
    const t = Date.parse(item.observed_at);
    return t > time - keepMs && t !== time;
  });
  kept.push(report);
  return kept.sort((a, b) => Date.parse(a.observed_at) - Date.parse(b.observed_at));
}

/** Min, max and last of a series: the text alternative of the chart for screen readers. */
export function summarize(points: Point[]): { min: number; max: number; last: number } | null {
  if (points.length === 0) return null;
  const ys = points.map((point) => point.y);
  return { min: Math.min(...ys), max: Math.max(...ys), last: ys[ys.length - 1]! };
}

/** The newer of two reports by observation time (a REST snapshot must not replace a newer live report). */
export function newerReport(current: AnalysisReport | undefined, next: AnalysisReport): AnalysisReport {
  if (!current) return next;
  return Date.parse(next.observed_at) >= Date.parse(current.observed_at) ? next : current;
}
