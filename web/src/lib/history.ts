/** Insights as the dashboard lists them: searchable, de-duplicated, newest first. */
import type { AIInsight } from '../api/types';

/** An insight with the question that asked for it, where this browser knows it (the API does not keep it). */
export type InsightView = AIInsight & { question?: string | null };

/**
 * An insight's identity. The API gives insights no id; the same insight arriving over REST and over the live
 * channel has the same kind, language, report, text and request.
 */
export function insightKey(insight: AIInsight): string {
  return [insight.kind, insight.language, insight.report_observed_at ?? '', insight.request_id ?? '', insight.text].join(
    '\u0000',
  );
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

/** `fresh` (newest first) before `known`, one entry per insight; a question known on either side is kept. */
export function mergeInsights(fresh: InsightView[], known: InsightView[]): InsightView[] {
  const merged = new Map<string, InsightView>();
  for (const item of [...fresh, ...known]) {
    const key = insightKey(item);
    const seen = merged.get(key);
    merged.set(key, seen ? { ...seen, question: seen.question ?? item.question } : item);
  }
  return [...merged.values()];
}
