import { describe, expect, it } from 'vitest';
import type { AnalysisReport } from '../../src/api/types';
import {
  appendReport,
  availableWindows,
  metricPoints,
  newerReport,
  summarize,
  thin,
  windowSeries,
  type Point,
} from '../../src/lib/chartData';

const HOUR = 3600_000;
const T0 = Date.parse('2025-11-12T10:00:00Z');

function report(at: number, price: number | null): AnalysisReport {
  return {
    observed_at: new Date(at).toISOString(),
    health_score: 90,
    status: 'healthy',
    findings: [],
    window_observations: 1,
    observation_event_id: null,
    metrics:
      price === null
        ? null
        : {
            epoch: 186,
            tick: 1,
            tick_duration_s: 1,
            tick_rate_per_s: 1,
            epoch_tick_quality_pct: 99,
            tick_quality_last_10k_pct: null,
            empty_ticks_in_epoch: 0,
            ticks_in_epoch: 1,
            price_usd: price,
            price_change_1h_pct: null,
            price_change_24h_pct: null,
            circulating_supply: 1,
            burned_qus: 0,
            market_cap_usd: 1,
            active_addresses: 1,
            archive_lag_ticks: null,
          },
  };
}

const price = (m: { price_usd: number }) => m.price_usd;

describe('metricPoints', () => {
  it('orders reports by observation time', () => {
    const points = metricPoints([report(T0 + 2000, 3), report(T0, 1), report(T0 + 1000, 2)], price);
    expect(points.map((p) => p.y)).toEqual([1, 2, 3]);
  });

  it('keeps the last report of a repeated time', () => {
    expect(metricPoints([report(T0, 1), report(T0, 5)], price)).toEqual([{ x: T0, y: 5 }]);
  });

  it('skips reports without metrics', () => {
    expect(metricPoints([report(T0, null), report(T0 + 1, 2)], price)).toEqual([{ x: T0 + 1, y: 2 }]);
  });
});

describe('windowSeries', () => {
  const points: Point[] = Array.from({ length: 50 }, (_, i) => ({ x: T0 - (49 - i) * HOUR, y: i }));

  it('ends the window at the newest point, not at the wall clock (a replay lives in the past)', () => {
    const series = windowSeries(points, '1h');
    expect(series.end).toBe(T0);
    expect(series.points.map((p) => p.y)).toEqual([49]);
  });

  it('keeps 24 hours of points for the 24 h window', () => {
    expect(windowSeries(points, '24h').points).toHaveLength(24);
  });

  it('is empty without points', () => {
    expect(windowSeries([], '1h')).toEqual({ points: [], start: null, end: null });
  });
});

describe('thin', () => {
  const many: Point[] = Array.from({ length: 5000 }, (_, i) => ({ x: T0 + i * 1000, y: i }));

  it('returns no more than the maximum number of points', () => {
    expect(thin(many, 400).length).toBeLessThanOrEqual(400);
  });

  it('always keeps the newest point', () => {
    expect(thin(many, 400).at(-1)).toEqual(many.at(-1));
  });

  it('leaves short series alone', () => {
    expect(thin(many.slice(0, 10), 400)).toHaveLength(10);
  });
});

describe('availableWindows', () => {
  it('offers nothing without data', () => {
    expect(availableWindows([])).toEqual([]);
  });

  it('offers only 1 h while the history spans an hour or less', () => {
    expect(availableWindows([{ x: T0, y: 1 }, { x: T0 + HOUR, y: 1 }])).toEqual(['1h']);
  });

  it('offers 24 h once the history spans more than an hour', () => {
    expect(availableWindows([{ x: T0, y: 1 }, { x: T0 + HOUR + 1, y: 1 }])).toEqual(['1h', '24h']);
  });
});

describe('appendReport', () => {
  it('adds a live report in time order', () => {
    const merged = appendReport([report(T0 + 2000, 3), report(T0, 1)], report(T0 + 1000, 2));
    expect(merged.map((r) => r.observed_at)).toEqual(
      [T0, T0 + 1000, T0 + 2000].map((t) => new Date(t).toISOString()),
    );
  });

  it('replaces a report of the same time', () => {
    expect(appendReport([report(T0, 1)], report(T0, 9))).toHaveLength(1);
  });

  it('drops reports older than the kept span', () => {
    const merged = appendReport([report(T0 - 25 * HOUR, 1), report(T0 - HOUR, 2)], report(T0, 3));
    expect(merged).toHaveLength(2);
  });
});

describe('summarize', () => {
  it('gives min, max and last for the text alternative', () => {
    expect(summarize([{ x: 1, y: 3 }, { x: 2, y: 1 }, { x: 3, y: 2 }])).toEqual({ min: 1, max: 3, last: 2 });
  });

  it('is null for no points', () => {
    expect(summarize([])).toBeNull();
  });
});

describe('newerReport', () => {
  it('keeps a live report that is newer than a snapshot fetched before it', () => {
    const live = report(T0 + 1000, 2);
    expect(newerReport(live, report(T0, 1))).toBe(live);
  });

  it('takes a newer snapshot', () => {
    const fresh = report(T0 + 2000, 3);
    expect(newerReport(report(T0, 1), fresh)).toBe(fresh);
  });

  it('takes the first report there is', () => {
    const first = report(T0, 1);
    expect(newerReport(undefined, first)).toBe(first);
  });
});
