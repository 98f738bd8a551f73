/**
 * The Logs page finds a request across processes, against its own `qcl up --shards 2` (tiny-random-llama split over
 * two `qcl shard serve` processes): one chat completion goes through the API and both stages; on the page, the
 * coordinator's line of it is found by text, and clicking its request id shows that request's lines from all three
 * processes. A query the API cannot parse shows the API's message.
 */
import { expect, test } from '@playwright/test';
import { cspViolations, prepare, shot } from '../helpers';
import { startQcl } from '../qclUp';

const START_TIMEOUT_MS = 3 * 60_000; // two stages importing torch on 2 cores
const MODEL = 'tiny-random-llama';

test('the Logs page finds a request across processes', async ({ page }) => {
  test.skip(process.env.QCL_E2E_SKIP_LIVE === '1', 'no live stack (QCL_E2E_SKIP_LIVE=1)');
  test.setTimeout(START_TIMEOUT_MS + 2 * 60_000);
  const qcl = await startQcl({
    args: ['--shards', '2'],
    env: { QCL_MODEL: MODEL, QCL_NARRATE_EMBEDDINGS: 'false', QCL_JOBS_WORKERS: '0' },
    startTimeoutMs: START_TIMEOUT_MS,
  });
  try {
    const requestId = `pw-logs-${Date.now()}`;
    const answer = await fetch(new URL('/v1/chat/completions', qcl.url), {
      method: 'POST',
      headers: { Authorization: `Bearer ${qcl.key}`, 'Content-Type': 'application/json', 'X-Request-Id': requestId },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Is the network healthy?' }], max_tokens: 4 }),
    });
    expect(answer.status).toBe(200);

    await prepare(page, qcl.key);
    await page.goto(new URL('/#/logs', qcl.url).toString());
    await page.getByTestId('logs-text').fill('"through the pool"');
    const lines = page.getByTestId('logs-lines');
    // The collector indexes about once a second: search again until the coordinator's line is there.
    await expect(async () => {
      await page.getByTestId('logs-submit').click();
      await expect(lines.getByRole('button', { name: new RegExp(requestId) })).toBeVisible({ timeout: 1_000 });
    }).toPass({ timeout: 20_000 });
    await lines.getByRole('button', { name: new RegExp(requestId) }).click();

    await expect(page.getByTestId('logs-request-id')).toHaveValue(requestId);
    const rows = lines.getByTestId('logs-line');
    await expect(lines.locator('[data-testid="logs-line"][data-service="shard-local-s1-r0"]').first()).toBeVisible();
    await expect(rows.getByRole('button', { name: new RegExp(requestId) })).toHaveCount(await rows.count()); // one request
    const services = await rows.evaluateAll((elements) => [...new Set(elements.map((e) => e.getAttribute('data-service')))].sort());
    expect(services).toEqual(['api', 'shard-local-s0-r0', 'shard-local-s1-r0']);
    await shot(page, 'live-logs-request-across-processes');

    await page.getByTestId('logs-clear').click();
    await page.getByTestId('logs-text').fill('"unclosed');
    await page.getByTestId('logs-submit').click();
    await expect(page.getByText(/No closing quotation/)).toBeVisible();
    await expect(page.getByTestId('logs-text')).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByTestId('logs-pattern').first()).toBeVisible();
    expect(await cspViolations(page)).toEqual([]);
  } finally {
    await qcl.stop();
  }
});
