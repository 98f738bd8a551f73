/** The message tables: complete, consistent placeholders, and every code the API can send has a label. */
import { describe, expect, it } from 'vitest';
import { en } from '../../src/i18n/en';
import { placeholders, translate } from '../../src/i18n/translate';
import { zhTW } from '../../src/i18n/zh-TW';
import { PAGES } from '../../src/lib/route';
import { FINDING_CODES } from '../../src/lib/sources';

const keys = Object.keys(zhTW).sort();

describe('message tables', () => {
  it('English has exactly the keys of Traditional Chinese', () => {
    expect(Object.keys(en).sort()).toEqual(keys);
  });

  it.each(keys)('%s has the same placeholders in both languages', (key) => {
    const k = key as keyof typeof zhTW;
    expect(placeholders(en[k])).toEqual(placeholders(zhTW[k]));
  });

  it('has no empty message', () => {
    const empty = [...Object.entries(zhTW), ...Object.entries(en)].filter(([, text]) => !text.trim());
    expect(empty).toEqual([]);
  });

  it('labels every finding code of the analysis engine', () => {
    const missing = FINDING_CODES.filter((code) => !(`finding.${code}` in zhTW));
    expect(missing).toEqual([]);
  });

  it('names every page', () => {
    expect(PAGES.filter((page) => !(`nav.${page}` in zhTW))).toEqual([]);
  });

  it('writes the Chinese table in Chinese (guards against pasting English into it)', () => {
    const sameAsEnglish = keys.filter((key) => {
      const k = key as keyof typeof zhTW;
      return zhTW[k] === en[k] && /[a-z]{4,}/i.test(zhTW[k].replace(/\{\w+\}/g, ''));
    });
    // Proper names stay as they are: the English language name is written in English in both tables.
    expect(sameAsEnglish).toEqual(['language.en']);
  });
});

describe('translate', () => {
  it('fills placeholders', () => {
    expect(translate('en', 'sync.reconnecting', { attempt: 3 })).toBe('Reconnecting (attempt 3)');
  });

  it('leaves a placeholder it was not given visible instead of printing undefined', () => {
    expect(translate('en', 'sync.reconnecting')).toBe('Reconnecting (attempt {attempt})');
  });

  it('answers in the language asked', () => {
    expect(translate('zh-TW', 'nav.overview')).toBe('總覽');
    expect(translate('en', 'nav.overview')).toBe('Overview');
  });
});
