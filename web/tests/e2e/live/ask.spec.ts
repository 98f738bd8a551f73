/**
 * The Ask page's answer stream against the shared `qcl up` (template narration: the composed answer, then a final
 * answer that says why no model phrased it), in Chinese and in English: the request asks for Server-Sent Events,
 * the server sends `answer` then `final`, and the page shows that answer with the reason in the user's language.
 * The model's own phrasing, sentence by sentence, is in askModel.spec.ts (its own qcl up with the model on).
 */
import { shot } from '../helpers';
import { askAndWatch, finalOf } from './askStream';
import { expect, openDashboard, test } from './fixture';

test('a question in Chinese: the composed answer arrives by the stream and is the final one, with the reason', async ({ page, qcl }) => {
  await openDashboard(page, qcl, '/#/ask');
  await expect(page.getByTestId('history')).toBeVisible({ timeout: 30_000 });
  const asked = await askAndWatch(page, () => page.getByTestId('ask-template').filter({ hasText: '網路健康嗎？' }).click());
  expect(asked.accept).toMatch(/^text\/event-stream/);
  expect(asked.events.map((event) => event.event)).toEqual(['answer', 'final']);
  const composed = asked.events[0]!.data as { text: string; model: string; fallback_reason: string };
  expect([composed.model, composed.fallback_reason.split(':')[0]]).toEqual(['template', 'composed']);
  const final = finalOf(asked);
  expect(asked.phases[asked.phases.length - 1]).toBe('final');
  expect(asked.phases.filter((phase) => !['composed', 'final'].includes(phase))).toEqual([]); // no model: no phrasing

  const card = page.getByTestId('answer').first();
  await expect(card).toContainText(final.text);
  await expect(card).toContainText('問：網路健康嗎？');
  await expect(card.getByTestId('badge-fallback')).toBeVisible();
  await expect(card.getByTestId('answer-origin')).toContainText('組合答案：每個數字都直接取自報告。');
  await expect(card.getByTestId('answer-origin')).toHaveAttribute('title', final.fallback_reason!);
  await expect(card.getByTestId('phrasing')).toHaveCount(0);
  await shot(page, 'live-ask-stream-zh');
});

test('a question in English: the same stream, the reason said in English', async ({ page, qcl }) => {
  await openDashboard(page, qcl, '/#/ask');
  await page.getByTestId('toggle-language').click();
  await expect(page.getByTestId('page-title')).toHaveText('Ask');
  const asked = await askAndWatch(page, async () => {
    await page.getByLabel('Your question').fill('What is the market cap?');
    await page.getByLabel('Your question').press('Enter');
  });
  expect(asked.events[0]!.event).toBe('answer');
  const final = finalOf(asked);
  expect(final.language).toBe('en');
  const card = page.getByTestId('answer').first();
  await expect(card).toContainText(final.text);
  await expect(card.locator('[lang="en"]').first()).toBeVisible();
  await expect(card.getByTestId('answer-origin')).toContainText('Composed answer: every figure straight from the report.');
  await shot(page, 'live-ask-stream-en');
});
