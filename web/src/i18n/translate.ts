/** Message lookup with `{name}` placeholders; the tables live in zh-TW.ts (the reference) and en.ts. */
import type { Language } from '../api/types';
import { en } from './en';
import type { MessageKey, Messages } from './messages';
import { zhTW } from './zh-TW';

export const MESSAGES: Record<Language, Messages> = { 'zh-TW': zhTW, en };
export const LANGUAGES: readonly Language[] = ['zh-TW', 'en'];
export const DEFAULT_LANGUAGE: Language = 'zh-TW';

export type Params = Record<string, string | number>;
export type Translate = (key: MessageKey, params?: Params) => string;

/** The names of the placeholders in a message, e.g. "{count} of {total}" → ["count", "total"]. */
export function placeholders(message: string): string[] {
  return [...message.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!).sort();
}

export function translate(language: Language, key: MessageKey, params: Params = {}): string {
  const message = MESSAGES[language][key];
  return message.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

export function translator(language: Language): Translate {
  return (key, params) => translate(language, key, params);
}
