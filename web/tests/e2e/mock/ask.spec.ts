import { expect, test } from '@playwright/test';
import { prepare, shot } from '../helpers';
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
