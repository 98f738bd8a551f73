/** @vitest-environment jsdom */
/** The Logs page against a stubbed API: the filters become the query, a request id filters by it, a 400 names the
 * field it marks, patterns show their flags, alerts and request ids, and a viewer gets a note instead. */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../src/api/client';
import { byRequest, invalidField, logQuery, NO_FILTERS, patternFlags } from '../../src/lib/logs';
import { Logs } from '../../src/pages/Logs';
import { forgetRoles } from '../../src/state/admin';
import { BURST, logList, patternList, REQUEST_ID, STAGE_LINE, STEADY, API_LINE } from '../e2e/mock/logFixtures';
import { renderWithApp, stubApi, type Routes } from './render';


const INVALID = {
  status: 400,
  body: { error: { code: 'invalid_log_query', field: 'q', message: "q: cannot parse '\"x': No closing quotation", request_id: 'r400' } },
};

function start(extra: Routes = {}, role: 'viewer' | 'operator' = 'operator') {
  localStorage.setItem('qcl.apiKey', 'k');
  const fetch = stubApi({
    '/api/auth/whoami': () => ({ body: { key_id: '1f2e3d4c', role } }),
    '/api/ops/logs': () => ({ body: logList() }),
    '/api/ops/logs/patterns': () => ({ body: patternList() }),
    ...extra,
  });
  renderWithApp(<Logs />);
  return fetch;
}

const queries = (fetch: ReturnType<typeof stubApi>) =>
  fetch.mock.calls
    .map(([input]) => new URL(String(input)))
    .filter((url) => url.pathname === '/api/ops/logs')
    .map((url) => Object.fromEntries(url.searchParams));

beforeEach(() => forgetRoles());
afterEach(() => vi.unstubAllGlobals());

describe('log logic', () => {
  it('leaves empty filters out of the query and trims the rest', () => {
    expect(logQuery({ since: '15m', level: 'ERROR', service: ' shard ', requestId: '', text: '"session failed"' })).toEqual({
      since: '15m',
      level: 'ERROR',
      service: 'shard',
      q: '"session failed"',
      limit: 200,
    });
    expect(logQuery(NO_FILTERS, 50)).toEqual({ since: '1h', limit: 50 });
  });

  it('filters by a request keeping only the time range', () => {
    expect(byRequest({ since: '6h', level: 'ERROR', service: 'api', requestId: '', text: 'x' }, 'req-1')).toEqual({
      ...NO_FILTERS,
      since: '6h',
      requestId: 'req-1',
    });
  });

  it('maps the field a 400 names onto the form, and nothing else', () => {
    const refusal = (field: string, code = 'invalid_log_query') => new ApiError({ kind: 'invalid', message: 'm', status: 400, code, field });
    expect(invalidField(refusal('request_id'))).toBe('requestId');
    expect(invalidField(refusal('until'))).toBe('since');
    expect(invalidField(refusal('limit', 'validation_error'))).toBeNull();
    expect(invalidField(null)).toBeNull();
  });

  it('lists a pattern flags in a fixed order', () => {
    expect(patternFlags(BURST)).toEqual(['new', 'bursting']);
    expect(patternFlags(STEADY)).toEqual([]);
  });
});

describe('the Logs page', () => {
  it('shows the lines of every process and filters by a request id clicked in a row', async () => {
    const fetch = start();
    const table = await screen.findByTestId('logs-lines');
    expect(within(table).getAllByTestId('logs-line').map((row) => row.getAttribute('data-service'))).toEqual([
      API_LINE.service,
      STAGE_LINE.service,
      'shard-local-s0-r0',
    ]);
    expect(within(table).getByText(/RuntimeError: out of memory/)).toBeTruthy(); // the stack trace under its line
    fireEvent.click(within(table).getAllByRole('button', { name: new RegExp(REQUEST_ID) })[0]!);
    await waitFor(() => expect(queries(fetch).at(-1)).toEqual({ since: '1h', request_id: REQUEST_ID, limit: '200' }));
    expect((screen.getByTestId('logs-request-id') as HTMLInputElement).value).toBe(REQUEST_ID);
  });

  it('sends the typed filters on submit', async () => {
    const fetch = start();
    await screen.findByTestId('logs-lines');
    fireEvent.change(screen.getByTestId('logs-service'), { target: { value: 'shard' } });
    fireEvent.change(screen.getByTestId('logs-text'), { target: { value: 'session opened' } });
    fireEvent.click(screen.getByTestId('logs-submit'));
    await waitFor(() => expect(queries(fetch).at(-1)).toEqual({ since: '1h', service: 'shard', q: 'session opened', limit: '200' }));
  });

  it('shows the API message of a query it cannot parse and marks the field', async () => {
    start({ '/api/ops/logs': () => INVALID });
    expect(await screen.findByText(/No closing quotation/)).toBeTruthy();
    expect(screen.getByTestId('logs-text').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByTestId('logs-service').getAttribute('aria-invalid')).toBe('false');
  });

  it('lists patterns with their flags, the alerts then and request ids that filter the lines', async () => {
    const fetch = start();
    const [burst, steady] = await screen.findAllByTestId('logs-pattern');
    expect(within(burst!).getByTestId('logs-flag-new')).toBeTruthy();
    expect(within(burst!).getByTestId('logs-flag-bursting')).toBeTruthy();
    expect(within(burst!).getByTestId('logs-pattern-alerts').textContent).toContain('QclTargetDown');
    expect(within(steady!).queryByTestId('logs-flag-bursting')).toBeNull();
    fireEvent.click(within(burst!).getByRole('button', { name: /req-0001/ }));
    await waitFor(() => expect(queries(fetch).at(-1)?.request_id).toBe('req-0001'));
  });

  it('tells a viewer that logs need an operator, and asks nothing', async () => {
    const fetch = start({}, 'viewer');
    expect(await screen.findByTestId('logs-viewer-note')).toBeTruthy();
    expect(queries(fetch)).toEqual([]);
  });
});
