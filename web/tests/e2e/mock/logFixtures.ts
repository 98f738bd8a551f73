/** Log lines and patterns as GET /api/ops/logs and /api/ops/logs/patterns answer them (the mocked API, vitest). */
import type { LogEntry, LogList, LogPattern, LogPatternList } from '../../../src/api/types';

export const REQUEST_ID = 'req-7f3a';

export const API_LINE: LogEntry = {
  time: '2026-12-05T07:28:35.542Z',
  severity: 'INFO',
  service: 'api',
  pid: 21807,
  request_id: REQUEST_ID,
  logger: 'qcl.api.routes_openai',
  message: 'chatcmpl-c9f3 for user -: 31 prompt + 4 completion tokens, length, 576 ms',
  stack_trace: null,
};

export const STAGE_LINE: LogEntry = {
  time: '2026-12-05T07:28:35.516Z',
  severity: 'INFO',
  service: 'shard-local-s1-r0',
  pid: 22095,
  request_id: REQUEST_ID,
  logger: 'qcl.shard.server',
  message: 'shard local-s1-r0: session d5a88f62 opened on layers 1:2',
  stack_trace: null,
};

export const ERROR_LINE: LogEntry = {
  time: '2026-12-05T07:27:01.000Z',
  severity: 'ERROR',
  service: 'shard-local-s0-r0',
  pid: 22094,
  request_id: null,
  logger: 'qcl.shard.server',
  message: 'shard local-s0-r0: session failed',
  stack_trace: 'Traceback (most recent call last):\n  RuntimeError: out of memory',
};

export function logList(entries: LogEntry[] = [API_LINE, STAGE_LINE, ERROR_LINE]): LogList {
  return { backend: 'local', entries };
}

export const BURST: LogPattern = {
  template: 'stage local-s1-r0 failed: <NUM> frames lost',
  severity: 'ERROR',
  services: ['shard-local-s1-r0'],
  count: 8,
  recent: 8,
  baseline: 0,
  first_seen: '2026-12-05T07:27:00Z',
  last_seen: '2026-12-05T07:28:00Z',
  new: true,
  bursting: true,
  request_ids: [REQUEST_ID, 'req-0001'],
  alerts: [{ alertname: 'QclTargetDown', fingerprint: 'f00d', status: 'firing', starts_at: '2026-12-05T07:26:00Z' }],
  example: 'stage local-s1-r0 failed: 3 frames lost',
};

export const STEADY: LogPattern = {
  ...BURST,
  template: 'ingest: published tick <NUM> (epoch <NUM>) as event <UUID>',
  severity: 'INFO',
  services: ['api'],
  count: 1038,
  recent: 80,
  baseline: 958,
  new: false,
  bursting: false,
  request_ids: [],
  alerts: [],
};

export function patternList(patterns: LogPattern[] = [BURST, STEADY]): LogPatternList {
  return { window_s: 300, baseline_s: 3600, lines: 1046, patterns };
}
