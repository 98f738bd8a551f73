import { expect, test } from '@playwright/test';
import { cspViolations, prepare, seriousAxeViolations, shot } from '../helpers';
import { answer } from './fixtures';
import { installMockApi } from './mockApi';

test('a quick template gets an answer marked exact (template) with its sources', async ({ page }) => {
  await prepare(page);
  const api = await installMockApi(page);
  await page.goto('/#/ask');
  await page.getByTestId('ask-template').filter({ hasText: '為什麼空 tick 變多？' }).click();
  const answer = page.getByTestId('answers').getByTestId('insight-card').first();
  await expect(answer.getByTestId('badge-fallback')).toBeVisible();
  await expect(answer.getByTestId('insight-source').first()).toBeVisible();
  await expect(answer).toContainText('問：為什麼空 tick 變多？');
  expect(api.questions).toEqual([{ question: '為什麼空 tick 變多？', language: 'zh-TW' }]);
  await shot(page, 'ask-answer');
});

test('a typed question is sent with Enter in the chosen answer language', async ({ page }) => {
  await prepare(page);
  const api = await installMockApi(page);
  await page.goto('/#/ask');
  await page.getByLabel('回答語言').click();
  await page.getByRole('option', { name: 'English' }).click();
  await page.getByLabel('你的問題').fill('Is the network healthy?');
  await page.getByLabel('你的問題').press('Enter');
  await expect(page.getByTestId('answers')).toContainText('Health score 72');
  await expect(page.getByTestId('answers').getByTestId('badge-fallback')).toContainText('範本回答');
  expect(api.questions).toEqual([{ question: 'Is the network healthy?', language: 'en' }]);
});

test('clicking a source of an answer lands on that evidence in the overview', async ({ page }) => {
  await prepare(page);
  await installMockApi(page);
  await page.goto('/#/ask');
  await page.getByTestId('ask-template').first().click();
  await page.getByTestId('answers').getByRole('link', { name: '空 tick 增加' }).click();
  await expect(page).toHaveURL(/#\/overview\?focus=finding-empty_ticks_high$/);
  await expect(page.locator('#finding-empty_ticks_high')).toBeFocused();
});

test('the history search narrows the list', async ({ page }) => {
  await prepare(page);
  await installMockApi(page);
  await page.goto('/#/ask');
  await expect(page.getByTestId('history').getByTestId('insight-card')).toHaveCount(1);
  await page.getByLabel('搜尋歷史').fill('量子');
  await expect(page.getByTestId('empty-state')).toContainText('沒有符合「量子」的紀錄');
});

/** Server-Sent Events as the API writes them (qcl/api/routes_ai.py). */
const sse = (...events: [string, unknown][]) => events.map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`).join('');

test('a streamed answer shows the model’s checked sentences as being phrased, then the final answer', async ({ page }) => {
  await prepare(page);
  await installMockApi(page);
  const composed = { ...answer('Is the network healthy?', 'en'), fallback_reason: 'composed: the composed answer, without waiting for the model' };
  const phrased = { ...composed, text: 'Health score 72. Empty ticks at 4.2%.', model: 'smollm2-135m-instruct', grounded: true, fallback_used: false, fallback_reason: null };
  let releaseJson: () => void = () => {};
  const jsonHeld = new Promise<void>((done) => (releaseJson = done));
  let streams = 0;
  await page.route('**/api/ai/question', async (route) => {
    if (!(route.request().headers().accept ?? '').startsWith('text/event-stream')) {
      await jsonHeld; // the fallback: held so the page stays in its phrasing state while we look at it
      return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(composed) });
    }
    streams += 1;
    const body =
      streams === 1
        ? sse(['answer', composed], ['delta', { text: 'Health score 72.' }]) // ends before `final`: a broken stream
        : sse(['answer', composed], ['delta', { text: 'Health score 72.' }], ['progress', {}], ['delta', { text: ' Empty ticks at 4.2%.' }], ['final', phrased]);
    return route.fulfill({ status: 200, contentType: 'text/event-stream; charset=utf-8', body });
  });
  await page.goto('/#/ask');
  await page.getByTestId('toggle-language').click();
  await page.getByTestId('ask-template').filter({ hasText: 'Is the network healthy?' }).click();

  const card = page.getByTestId('answer').first();
  await expect(card).toHaveAttribute('data-phase', 'phrasing');
  await expect(card.getByTestId('phrasing')).toContainText('The model is rephrasing this answer');
  await expect(card.getByTestId('phrasing-text')).toHaveText('Health score 72.');
  await expect(card).toContainText(composed.text); // the composed answer stays shown meanwhile
  expect(await seriousAxeViolations(page)).toEqual([]);
  await shot(page, 'ask-phrasing');
  releaseJson();
  await expect(card).toHaveAttribute('data-phase', 'final');
  await expect(card.getByTestId('answer-origin')).toContainText('Streaming failed; this answer was fetched by a plain request instead.');

  await page.getByTestId('ask-template').filter({ hasText: 'Is the network healthy?' }).click();
  await expect(page.getByTestId('answer')).toHaveCount(2);
  const second = page.getByTestId('answer').first();
  await expect(second).toHaveAttribute('data-phase', 'final');
  await expect(second).toContainText(phrased.text);
  await expect(second.getByTestId('badge-grounded')).toBeVisible();
  await expect(second.getByTestId('answer-origin')).toHaveText('Phrased by the model smollm2-135m-instruct; every figure checked against the report.');
  expect(await seriousAxeViolations(page)).toEqual([]);
  expect(await cspViolations(page)).toEqual([]);
  await shot(page, 'ask-phrased');
});
