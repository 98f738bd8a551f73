/** Jobs against the mocked API: an operator submits a batch and sees it done (the page polls: jobs are not on the
 * live channel), cancels a queued job, retries a dead one (resubmitted as a new job), reads a 429's Retry-After in
 * words; a viewer sees the queue and usage without the buttons. axe and the CSP hold with the form open. */
import { expect, test } from '@playwright/test';
import { cspViolations, horizontalOverflow, PHONE, prepare, seriousAxeViolations, shot } from '../helpers';
import { installMockApi } from './mockApi';

test('an operator submits a batch, follows it to done, cancels and retries', async ({ page }) => {
  await prepare(page);
  const api = await installMockApi(page, { operator: true });
  await page.goto('/#/jobs');
  await expect(page.getByTestId('queue-by-class')).toContainText('互動');
  await expect(page.getByTestId('usage-daily')).toContainText('15,000,000 / 20,000,000');

  await page.getByLabel('提示（每行一則）').fill('第一題\n第二題');
  await page.getByRole('combobox', { name: '優先等級' }).click();
  await page.getByRole('option', { name: '標準' }).click();
  await page.getByLabel('最多 token 數').fill('8');
  await page.getByRole('button', { name: '提交 2 件工作' }).click();
  await expect(page.getByTestId('batch-accepted')).toHaveText('已接受 2 件工作。');
  expect(api.submissions).toEqual([{ kind: 'completion', prompts: ['第一題', '第二題'], priority: 'standard', max_tokens: 8 }]);
  const first = page.locator('[data-job="job-new-1-0"]');
  await expect(first.getByTestId('job-state')).toHaveText('排隊中');
  expect(await seriousAxeViolations(page)).toEqual([]);

  api.jobs.filter((item) => item.id.startsWith('job-new-1')).forEach((item) => {
    item.state = 'done';
    item.result = { text: `答案：${String(item.payload['prompt'])}` };
  });
  await expect(first.getByTestId('job-state')).toHaveText('完成'); // the next poll
  await expect(page.getByTestId('jobs-announcement')).toContainText('現在是「完成」');
  await page.getByRole('button', { name: '查看工作 job-new-1-0' }).click();
  await expect(page.getByTestId('job-result-text')).toHaveText('答案：第一題');
  await page.getByRole('button', { name: '關閉' }).click();

  await page.getByRole('button', { name: '取消工作 job-queued-1' }).click();
  await expect(page.getByTestId('jobs-notice')).toContainText('目前狀態：已取消');
  await expect(page.locator('[data-job="job-queued-1"]').getByTestId('job-state')).toHaveText('已取消');

  await page.getByRole('button', { name: '重試工作 job-dead-1' }).click();
  await expect(page.getByTestId('jobs-notice')).toContainText('重新提交為新工作 job-new-2-0');
  expect(api.submissions[1]).toMatchObject({ kind: 'completion', prompt: 'prompt of job-dead-1', priority: 'background' });
  await shot(page, 'jobs-operator');
  expect(await cspViolations(page)).toEqual([]);
});

test('a refused batch shows when to try again, in words', async ({ page }) => {
  await prepare(page);
  const api = await installMockApi(page, { operator: true });
  api.refuseJobs = 3700;
  await page.goto('/#/jobs');
  await page.getByLabel('提示（每行一則）').fill('one');
  await page.getByRole('button', { name: '提交 1 件工作' }).click();
  await expect(page.getByTestId('retry-after')).toHaveText('已達配額上限：約 1 小時 1 分鐘後可再提交。');
  await page.getByTestId('toggle-language').click();
  await expect(page.getByTestId('retry-after')).toHaveText('Quota reached: you can submit again in about 1h 1m.');
});

test('a viewer sees the queue, usage and jobs but no buttons, also on a phone', async ({ page }) => {
  await page.setViewportSize(PHONE);
  await prepare(page);
  await installMockApi(page);
  await page.goto('/#/jobs');
  await expect(page.getByTestId('viewer-note')).toBeVisible();
  await expect(page.getByTestId('jobs')).toBeVisible();
  await expect(page.getByTestId('batch-form')).toHaveCount(0);
  await expect(page.getByRole('button', { name: /取消工作|重試工作/ })).toHaveCount(0);
  await shot(page, 'jobs-viewer-phone');
  const wide = await page.evaluate(() =>
    [...document.querySelectorAll('body *')]
      .filter((element) => element.getBoundingClientRect().right > window.innerWidth + 1)
      .filter((element) => (element.parentElement?.getBoundingClientRect().right ?? 0) <= window.innerWidth + 1)
      .slice(0, 5)
      .map((element) => `${element.tagName}.${element.className} ${element.textContent?.slice(0, 60)} ${element.getBoundingClientRect().right}`),
  );
  expect(await horizontalOverflow(page), wide.join('\n')).toBeLessThanOrEqual(0);
});
