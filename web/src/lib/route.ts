/**
 * Hash routing (`/#/ask`): every page is reachable by URL and the back button, without a full reload, and the API
 * server needs no fallback route for client paths (it serves dist/ at / and nothing else).
 */
import { useEffect, useState } from 'react';

export const PAGES = ['overview', 'ask', 'nodes', 'oracle', 'tasks', 'jobs', 'workflows', 'alerts', 'logs', 'settings'] as const;
/** The admin console's pages: listed under "Admin" for an admin key only, and without a number shortcut. */
export const ADMIN_PAGES = ['keys', 'audit', 'versions'] as const;
export type Page = (typeof PAGES)[number] | (typeof ADMIN_PAGES)[number];

export function pageFromHash(hash: string): Page {
  const name = hash.replace(/^#\/?/, '').split(/[/?]/)[0] ?? '';
  return ([...PAGES, ...ADMIN_PAGES] as readonly string[]).includes(name) ? (name as Page) : 'overview';
}

/** `#/overview?focus=chart-price` → the element to highlight after navigating (an insight source's target). */
export function focusFromHash(hash: string): string | null {
  const query = hash.split('?')[1];
  return query ? new URLSearchParams(query).get('focus') : null;
}

export function hrefFor(page: Page, focus?: string): string {
  return focus ? `#/${page}?focus=${encodeURIComponent(focus)}` : `#/${page}`;
}

/** Go to `page`; with `focus`, the page moves focus to that element id once it has rendered. */
export function navigate(page: Page, focus?: string): void {
  window.location.hash = hrefFor(page, focus).slice(1);
}

export function useRoute(): Page {
  const [page, setPage] = useState<Page>(() => pageFromHash(window.location.hash));
  useEffect(() => {
    const onChange = () => setPage(pageFromHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return page;
}
