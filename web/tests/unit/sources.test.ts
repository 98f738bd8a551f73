import { describe, expect, it } from 'vitest';
import { sourceTarget } from '../../src/lib/sources';

const none = new Set<string>();

describe('sourceTarget', () => {
  it('links a finding in the current list to its row', () => {
    expect(sourceTarget('tick_stall', new Set(['tick_stall']))).toBe('finding-tick_stall');
  });

  it('links a finding no longer in the list to the card of its metric', () => {
    expect(sourceTarget('price_trend', none)).toBe('chart-price');
  });

  it('links price metrics to the price chart', () => {
    expect(sourceTarget('latest_stats.price_change_1h_pct', none)).toBe('chart-price');
    expect(sourceTarget('market_cap_usd', none)).toBe('chart-price');
  });

  it('sends empty-tick sources to tick quality, not to the tick card', () => {
    expect(sourceTarget('empty_ticks_high', none)).toBe('card-quality');
    expect(sourceTarget('latest_stats.empty_ticks_share_pct', none)).toBe('card-quality');
  });

  it('links tick timing to the tick card', () => {
    expect(sourceTarget('tick_info.duration_s', none)).toBe('card-tick');
    expect(sourceTarget('archive_lag', none)).toBe('card-tick');
  });

  it('links epoch and supply metrics to their cards', () => {
    expect(sourceTarget('epoch_transition', none)).toBe('card-epoch');
    expect(sourceTarget('circulating_supply', none)).toBe('card-supply');
  });

  it('links the health score to the health card', () => {
    expect(sourceTarget('health_score', none)).toBe('card-health');
  });

  it('sends a finding without a card to the anomaly list', () => {
    expect(sourceTarget('data_gap', none)).toBe('findings');
  });

  it('has no target for a source nothing on the page shows', () => {
    expect(sourceTarget('moon_phase', none)).toBeNull();
  });
});
