/** Keyboard shortcuts: one table (the `?` overlay lists it) and the pure key → action lookup. */
import type { MessageKey } from '../i18n/messages';
import { PAGES, type Page } from './route';

export type ShortcutAction =
  | { type: 'navigate'; page: Page }
  | { type: 'ask' }
  | { type: 'toggleTheme' }
  | { type: 'toggleLanguage' }
  | { type: 'refresh' }
  | { type: 'help' };

export interface Shortcut {
  key: string;
  action: ShortcutAction;
  description: MessageKey;
}

/** The key that opens the page at `index` of PAGES: 1–9, then 0 for the tenth, as on a keyboard's number row. */
export function pageKey(index: number): string {
  return index < 9 ? String(index + 1) : '0';
}

export const SHORTCUTS: Shortcut[] = [
  ...PAGES.map((page, index) => ({
    key: pageKey(index),
    action: { type: 'navigate', page } as const,
    description: `nav.${page}` as MessageKey,
  })),
  { key: '/', action: { type: 'ask' }, description: 'shortcuts.ask' },
  { key: 't', action: { type: 'toggleTheme' }, description: 'shortcuts.theme' },
  { key: 'l', action: { type: 'toggleLanguage' }, description: 'shortcuts.language' },
  { key: 'r', action: { type: 'refresh' }, description: 'shortcuts.refresh' },
  { key: '?', action: { type: 'help' }, description: 'shortcuts.help' },
];

export interface KeyInput {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  target: EventTarget | null;
}

/** True where typing happens, so a "t" typed into the question box stays a "t". */
export function isEditable(target: EventTarget | null): boolean {
  if (!target || typeof (target as HTMLElement).tagName !== 'string') return false;
  const element = target as HTMLElement;
  if (element.isContentEditable) return true;
  const tag = element.tagName.toLowerCase();
  if (tag === 'textarea' || tag === 'select') return true;
  if (tag !== 'input') return Boolean(element.closest?.('.monaco-editor'));
  const type = (element as HTMLInputElement).type;
  return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range'].includes(type);
}

export function shortcutFor(event: KeyInput): ShortcutAction | null {
  if (event.ctrlKey || event.metaKey || event.altKey || isEditable(event.target)) return null;
  return SHORTCUTS.find((shortcut) => shortcut.key === event.key.toLowerCase())?.action ?? null;
}
