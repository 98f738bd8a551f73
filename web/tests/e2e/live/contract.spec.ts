/** The API the dashboard was typed against is the API that runs: the server's OpenAPI document generates the same
 * types as the committed snapshot (else: `npm run gen:api -- --from <url>` and fix what the type checker reports). */
import { readFileSync } from 'node:fs';
import { CONTENT_SECURITY_POLICY } from '../../../csp';
import { generate, normalise, SCHEMA } from '../../../scripts/gen-api.mjs';
import { expect, test } from './fixture';

test('the running API generates exactly the committed client types', async ({ qcl }) => {
  const response = await fetch(new URL('/api/openapi.json', qcl.url));
  expect(response.ok).toBe(true);
  const live = await generate(normalise((await response.json()) as Record<string, unknown>));
  expect(live, 'the API changed: run `npm run gen:api -- --from <qcl up URL>`').toBe(readFileSync(SCHEMA, 'utf8'));
});

test('the server sends exactly the CSP the dashboard was measured to need (no data: or blob:)', async ({ qcl }) => {
  const response = await fetch(new URL('/', qcl.url));
  expect(response.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
});
