/**
 * Asking on the Ask page of a real `qcl up` and watching the answer arrive: which phases the answer card went
 * through (recorded in the page by a MutationObserver on `data-phase`, so a phase shown for a moment is not
 * missed), and the Server-Sent Events the server actually sent (read back from the response, parsed by the app's
 * own parser).
 */
import { expect, type Page } from '@playwright/test';
import type { AIInsight } from '../../../src/api/types';
import { SseParser } from '../../../src/lib/sse';

export interface Asked {
  phases: string[];
  events: { event: string; data: unknown }[];
  accept: string;
}

/** Record every data-phase the first answer card shows from now on (window.__phases). */
export async function recordPhases(page: Page): Promise<void> {
  await page.evaluate(() => {
    const phases: string[] = [];
    (window as unknown as { __phases: string[] }).__phases = phases;
    const note = () => {
      const phase = document.querySelector('[data-testid="answer"]')?.getAttribute('data-phase');
      if (phase && phases[phases.length - 1] !== phase) phases.push(phase);
    };
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-phase'] });
  });
}

/** Run `ask` (a click or a key press), wait for the final answer, and say what was sent and shown. */
export async function askAndWatch(page: Page, ask: () => Promise<void>, timeout = 60_000): Promise<Asked> {
  await recordPhases(page);
  const responded = page.waitForResponse((r) => r.url().endsWith('/api/ai/question') && r.request().method() === 'POST', { timeout });
  await ask();
  const response = await responded;
  await expect(page.getByTestId('answer').first()).toHaveAttribute('data-phase', 'final', { timeout });
  const events = new SseParser().push(await response.text()).map((event) => ({ event: event.event, data: JSON.parse(event.data) as unknown }));
  const phases = await page.evaluate(() => (window as unknown as { __phases: string[] }).__phases);
  return { phases, events, accept: (await response.request().allHeaders()).accept ?? '' };
}

export function finalOf(asked: Asked): AIInsight {
  const last = asked.events[asked.events.length - 1]!;
  expect(last.event).toBe('final');
  return last.data as AIInsight;
}
