/**
 * The Alerts page's logic, apart from React: the navigation badge's counts, the labels worth showing, failed
 * deliveries, the silence form's checks (as the API's SilenceRequest), and whether alerting is configured at all.
 *
 *   alertCounts(active)                                // { total: 3, page: 1 }: the badge
 *   silenceForm({ alertname: 'QclNodeDown', amount: '2', unit: 'hour', comment: 'draining', matchers: 'role=shard' })
 *     // { ok: true, request: { alertname: 'QclNodeDown', duration_s: 7200, comment: 'draining', matchers: { role: 'shard' } } }
 */
import type { ApiError } from '../api/client';
import type { AlertDelivery, AlertRecord, Silence, SilenceRequest, SilenceState } from '../api/types';

// qcl/api/routes_alerts.py SilenceRequest
export const SILENCE_MIN_S = 60;
export const SILENCE_MAX_S = 30 * 24 * 3600;
export const MAX_COMMENT = 500;
export const MAX_MATCHERS = 10;
const ALERTNAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const DURATION_UNITS = ['minute', 'hour', 'day'] as const;
export type DurationUnit = (typeof DURATION_UNITS)[number];
const UNIT_S: Record<DurationUnit, number> = { minute: 60, hour: 3600, day: 86400 };

/** The labels that say where an alert comes from, in this order, when it has them. */
export const SHOWN_LABELS = ['instance', 'job', 'role'] as const;

export const SILENCE_STATES: readonly SilenceState[] = ['active', 'pending', 'expired'];

/** Active alerts in total and those of `page` severity (the badge: a page stands out). */
export function alertCounts(active: readonly Pick<AlertRecord, 'severity' | 'status'>[]): { total: number; page: number } {
  const firing = active.filter((alert) => alert.status === 'firing');
  return { total: firing.length, page: firing.filter((alert) => alert.severity === 'page').length };
}

/** The labels of SHOWN_LABELS an alert has, as [name, value]. */
export function shownLabels(labels: Record<string, string>): [string, string][] {
  return SHOWN_LABELS.filter((name) => labels[name]).map((name) => [name, labels[name]!]);
}

export function failedDeliveries(alert: Pick<AlertRecord, 'deliveries'>): AlertDelivery[] {
  return (alert.deliveries ?? []).filter((delivery) => !delivery.ok);
}

/** Silences ordered as the reader wants them: active, then pending, then expired; newest end first within each. */
export function sortSilences(silences: readonly Silence[]): Silence[] {
  const rank = (state: SilenceState) => SILENCE_STATES.indexOf(state);
  return [...silences].sort((a, b) => rank(a.state) - rank(b.state) || b.ends_at.localeCompare(a.ends_at));
}

/** A 503 saying the API has no Alertmanager to ask (`qcl up` without `--ops`): a state to explain, not an error. */
export function alertingUnavailable(error: ApiError | null): boolean {
  return error?.status === 503 && error.code === 'alerting_unavailable';
}

export interface SilenceFormInput {
  alertname: string;
  amount: string;
  unit: DurationUnit;
  comment: string;
  matchers: string; // `name=value`, one a line or comma-separated
}

export type SilenceFormError = 'alertname' | 'duration' | 'comment' | 'matchers';

export type SilenceFormResult =
  | { ok: true; request: SilenceRequest }
  | { ok: false; errors: Partial<Record<SilenceFormError, true>> };

/** `role=shard, instance=a:9100` → { role: 'shard', instance: 'a:9100' }; null when a part is not name=value. */
export function parseMatchers(text: string): Record<string, string> | null {
  const matchers: Record<string, string> = {};
  for (const part of text.split(/[\n,]/).map((item) => item.trim()).filter(Boolean)) {
    const at = part.indexOf('=');
    const name = part.slice(0, at).trim();
    const value = part.slice(at + 1).trim();
    if (at < 1 || !LABEL_NAME.test(name) || !value || name === 'alertname') return null;
    matchers[name] = value;
  }
  return Object.keys(matchers).length <= MAX_MATCHERS ? matchers : null;
}

export function durationSeconds(amount: string, unit: DurationUnit): number | null {
  const value = Number(amount);
  if (!amount.trim() || !Number.isFinite(value) || value <= 0) return null;
  const seconds = Math.round(value * UNIT_S[unit]);
  return seconds >= SILENCE_MIN_S && seconds <= SILENCE_MAX_S ? seconds : null;
}

/** The form as the API's request, or which fields are wrong (checked as the API checks them). */
export function silenceForm(input: SilenceFormInput): SilenceFormResult {
  const alertname = input.alertname.trim();
  const comment = input.comment.trim();
  const duration = durationSeconds(input.amount, input.unit);
  const matchers = parseMatchers(input.matchers);
  const errors: Partial<Record<SilenceFormError, true>> = {};
  if (!ALERTNAME.test(alertname) || alertname.length > 120) errors.alertname = true;
  if (duration === null) errors.duration = true;
  if (!comment || comment.length > MAX_COMMENT) errors.comment = true;
  if (matchers === null) errors.matchers = true;
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  const request: SilenceRequest = { alertname, duration_s: duration!, comment };
  if (Object.keys(matchers!).length > 0) request.matchers = matchers!;
  return { ok: true, request };
}
