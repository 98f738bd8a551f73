/** Searching the insight history: every word of the query must appear in the question, the text or a source. */
import type { InsightRecord } from '../api/types';

export function matchesQuery(item: Pick<InsightRecord, 'text' | 'question' | 'sources'>, query: string): boolean {
  const terms = query.toLocaleLowerCase().split(/\s+/).filter(Boolean);
  if (terms.length === 0) return true;
  const haystack = [item.question ?? '', item.text, ...item.sources].join('\n').toLocaleLowerCase();
  return terms.every((term) => haystack.includes(term));
}

export function filterInsights<T extends Pick<InsightRecord, 'text' | 'question' | 'sources'>>(items: T[], query: string): T[] {
  return items.filter((item) => matchesQuery(item, query));
}

/** Newest first, one entry per id (a live event may repeat one fetched over REST). */
export function mergeInsights(fresh: InsightRecord[], known: InsightRecord[]): InsightRecord[] {
  const seen = new Set<string>();
  return [...fresh, ...known]
    .filter((item) => (seen.has(item.id) ? false : (seen.add(item.id), true)))
    .sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
}
