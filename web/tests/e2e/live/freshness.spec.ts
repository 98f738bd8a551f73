/**
 * The Overview's AI insight against the shared `qcl up`: the replay moves the latest report on every 0.25 s while the
 * narrator narrates only on a material change, so the insight is soon about an older report. The card says how
 * much older, and its button files a narration task; the stack's narrator narrates the newest report and the card
 * then shows that narrative (about a newer report than before).
 */
import { shot } from '../helpers';
import { expect, openDashboard, test } from './fixture';

test('an insight about an older report says so, and the button brings a narrative of the latest', async ({ page, qcl }) => {
  await openDashboard(page, qcl);
  const freshness = page.locator('#card-insight').getByTestId('insight-freshness');
  await expect(freshness).toHaveAttribute('data-state', 'older', { timeout: 45_000 });
  await expect(freshness).toContainText(/^關於 \d\d:\d\d 的報告（比最新報告早 \d+ 分鐘）/);
  const before = /關於 (\d\d:\d\d)/.exec((await freshness.textContent()) ?? '')![1]!;
  await shot(page, 'live-overview-insight-older');

  const filed = page.waitForResponse((r) => r.url().endsWith('/api/tasks') && r.request().method() === 'POST');
  await freshness.getByTestId('narrate-latest').click();
  const task = (await (await filed).json()) as { id: string; request: unknown };
  expect(task.request).toEqual({ kind: 'narration', language: 'zh-TW' });
  await expect.poll(async () => (await qcl.get<{ state: string }>(`/api/tasks/${task.id}`)).state, { timeout: 60_000 }).toBe('done');
  // The new narrative is about the report that was newest when the narrator took the task.
  await expect(freshness).not.toContainText(`關於 ${before} 的報告`, { timeout: 60_000 });
  await expect(page.locator('#card-insight').getByRole('alert')).toHaveCount(0);
  await shot(page, 'live-overview-insight-narrated');
});
