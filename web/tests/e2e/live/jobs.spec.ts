/**
 * The Jobs page against its own `qcl up` with the model on (SmolLM2, the conversion shared through modelCacheDir()),
 * so that the stack's job workers run what the page submits: a batch of two prompts goes from queued to done, its
 * result is the model's text, and the key's usage shows the tokens charged.
 */
import { expect, test } from '@playwright/test';
import type { JobList, QuotaReport } from '../../../src/api/types';
import { cspViolations, prepare, shot } from '../helpers';
import { modelCacheDir, startQcl, type RunningQcl } from '../qclUp';

const START_TIMEOUT_MS = 4 * 60_000; // a first conversion (~40 s) and torch's import on 2 cores

let qcl: RunningQcl | undefined;
test.afterAll(async () => qcl?.stop());

test('a small batch submitted from the page runs to done on the stack’s workers', async ({ page }) => {
  test.skip(process.env.QCL_E2E_SKIP_LIVE === '1', 'no live stack (QCL_E2E_SKIP_LIVE=1)');
  test.setTimeout(START_TIMEOUT_MS + 3 * 60_000);
  qcl = await startQcl({ env: { QCL_MODEL_CACHE_DIR: modelCacheDir() }, startTimeoutMs: START_TIMEOUT_MS });
  expect(qcl.output()).toContain('/api/jobs'); // "jobs N workers + 1 interactive lane on …"

  await prepare(page, qcl.key);
  await page.goto(new URL('/#/jobs', qcl.url).toString());
  await page.getByLabel('提示（每行一則）').fill('Say hello.\nName a colour.');
  await page.getByRole('combobox', { name: '優先等級' }).click();
  await page.getByRole('option', { name: '互動' }).click();
  await page.getByLabel('最多 token 數').fill('8');
  await page.getByRole('button', { name: '提交 2 件工作' }).click();
  await expect(page.getByTestId('batch-accepted')).toHaveText('已接受 2 件工作。');

  const rows = page.getByTestId('jobs').locator('tbody tr');
  await expect(rows).toHaveCount(2);
  await expect(rows.getByTestId('job-state').filter({ hasText: '完成' })).toHaveCount(2, { timeout: 120_000 });

  const response = await fetch(new URL('/api/jobs', qcl.url), { headers: { Authorization: `Bearer ${qcl.key}` } });
  const { jobs } = (await response.json()) as JobList;
  expect(jobs.map((job) => job.state)).toEqual(['done', 'done']);
  const text = String(jobs[0]!.result?.['text'] ?? '');
  await rows.first().getByRole('button', { name: /查看工作/ }).click();
  await expect(page.getByTestId('job-result-text')).toHaveText(text.replace(/\s+/g, ' ').trim());
  await expect(page.getByTestId('job-detail')).toContainText(String(jobs[0]!.payload['prompt']));
  await page.getByRole('button', { name: '關閉' }).click();
  const quotas = (await (
    await fetch(new URL('/api/quotas', qcl.url), { headers: { Authorization: `Bearer ${qcl.key}` } })
  ).json()) as QuotaReport;
  const charged = Math.round(quotas.keys[0]!.tokens_today);
  expect(charged).toBeGreaterThan(0); // admission charges each job's cost
  await expect(page.getByTestId('usage-daily')).toContainText(`${new Intl.NumberFormat('zh-TW').format(charged)} /`);
  await shot(page, 'live-jobs-done');
  expect(await cspViolations(page)).toEqual([]);
});
