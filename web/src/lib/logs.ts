/**
 * The Logs page's logic, apart from React: the filter form as the API's query (empty fields left out, so the API
 * reads them as "any"), the time ranges offered, a pattern's flags, and the field an API refusal names.
 *
 *   logQuery({ since: '15m', level: 'ERROR', service: ' shard ', requestId: '', text: '"session failed"' })
 *     // { since: '15m', level: 'ERROR', service: 'shard', q: '"session failed"', limit: 200 }
 */
import type { ApiError } from '../api/client';
import type { LogPattern } from '../api/types';

export const LOG_LIMIT = 200;
export const SINCE_CHOICES = ['15m', '1h', '6h', '24h', '7d'] as const;
export const LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] as const;

export interface LogFilters {
  since: string;
  level: string; // '' = every level
  service: string;
  requestId: string;
  text: string;
}

export const NO_FILTERS: LogFilters = { since: '1h', level: '', service: '', requestId: '', text: '' };

/** The query string of GET /api/ops/logs: trimmed values, empty ones left out. */
export function logQuery(filters: LogFilters, limit: number = LOG_LIMIT): Record<string, string | number> {
  const query: Record<string, string | number> = {};
  const fields: [string, string][] = [
    ['since', filters.since],
    ['level', filters.level],
    ['service', filters.service],
    ['request_id', filters.requestId],
    ['q', filters.text],
  ];
  for (const [name, value] of fields) {
    if (value.trim()) query[name] = value.trim();
  }
  query.limit = limit;
  return query;
}

/** The filters that show one request's lines in every process (the time range kept, the rest cleared). */
export function byRequest(filters: LogFilters, requestId: string): LogFilters {
  return { ...NO_FILTERS, since: filters.since, requestId };
}

export type PatternFlag = 'new' | 'bursting';

export function patternFlags(pattern: Pick<LogPattern, 'new' | 'bursting'>): PatternFlag[] {
  return (['new', 'bursting'] as const).filter((flag) => pattern[flag]);
}

/** The filter field a 400 `invalid_log_query` names, so the form can mark it; null for any other error. */
export function invalidField(error: ApiError | null): keyof LogFilters | null {
  if (!error || error.code !== 'invalid_log_query') return null;
  const fields: Record<string, keyof LogFilters> = { since: 'since', until: 'since', level: 'level', service: 'service', request_id: 'requestId', q: 'text' };
  return fields[error.field ?? ''] ?? null;
}

/** MUI's colour for a severity. */
export function severityColor(severity: string): 'default' | 'info' | 'warning' | 'error' {
  if (severity === 'ERROR' || severity === 'CRITICAL') return 'error';
  if (severity === 'WARNING') return 'warning';
  if (severity === 'INFO') return 'info';
  return 'default';
}
