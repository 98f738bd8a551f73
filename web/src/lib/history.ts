/** Insights as the dashboard lists them: searchable, one entry per insight (by its event id), newest first. */
import type { AIInsight, Insight } from '../api/types';

/**
 * An insight with the question that asked for it, where this browser knows it (the API does not keep it).
 * /api/insights and the live channel give each insight the id and time of the ai-insights event it was published
 * in; an answer asked on this page (POST /api/ai/question answers directly, nothing is published) gets a local id.
 */
export type InsightView = Insight & { question?: string | null };

/** An insight's identity: its event id. */
export function insightKey(insight: Pick<Insight, 'id'>): string {
  return insight.id;
}

let asked = 0;

/** An answer from POST /api/ai/question as a history entry: a local id (never an event's) and the time it came. */
export function askedInsight(answer: AIInsight, question: string, now: Date = new Date()): InsightView {
  asked += 1;
  return { ...answer, id: `local:${now.getTime()}:${asked}`, time: now.toISOString(), question };
}

export function matchesQuery(item: Pick<InsightView, 'text' | 'question' | 'sources'>, query: string): boolean {
  const terms = query.toLocaleLowerCase().split(/\s+/).filter(Boolean);
  if (terms.length === 0) return true;
  const haystack = [item.question ?? '', item.text, ...item.sources].join('\n').toLocaleLowerCase();
  return terms.every((term) => haystack.includes(term));
}

export function filterInsights<T extends Pick<InsightView, 'text' | 'question' | 'sources'>>(items: T[], query: string): T[] {
  return items.filter((item) => matchesQuery(item, query));
}

/** `fresh` (newest first) before `known`, one entry per insight id; a question known on either side is kept. */
export function mergeInsights(fresh: InsightView[], known: InsightView[]): InsightView[] {
  const merged = new Map<string, InsightView>();
  for (const item of [...fresh, ...known]) {
    const key = insightKey(item);
    const seen = merged.get(key);
    merged.set(key, seen ? { ...seen, question: seen.question ?? item.question } : item);
  }
  return [...merged.values()];
}
