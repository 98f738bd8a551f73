/** Fallback reasons in words: the API's "<code>: <detail>" read into a sentence in each language. */
import { describe, expect, it } from 'vitest';
import { translator } from '../../src/i18n/translate';
import { zhTW } from '../../src/i18n/zh-TW';
import { parseReason, REASON_CODES, reasonText } from '../../src/lib/reasons';

describe('parseReason', () => {
  it('splits a known code from its detail', () => {
    expect(parseReason('ungrounded: "143" names no quantity')).toEqual({
      code: 'ungrounded',
      detail: '"143" names no quantity',
      showDetail: true,
    });
  });

  it('reads an unknown code as other, keeping all of it as the detail', () => {
    expect(parseReason('cosmic_rays: a bit flipped')).toEqual({ code: 'other', detail: 'cosmic_rays: a bit flipped', showDetail: true });
    expect(parseReason('no colon at all').code).toBe('other');
  });

  it('has a sentence for every code in the tables', () => {
    expect([...REASON_CODES, 'other'].filter((code) => !(`reason.${code}` in zhTW))).toEqual([]);
  });
});

describe('reasonText', () => {
  const zh = translator('zh-TW');
  const en = translator('en');

  it('says a self-explained reason without the server’s English detail', () => {
    const reason = 'language_unsupported: smollm2-135m-instruct is not measured to write zh-TW fluently';
    expect(reasonText(zh, reason)).toBe('此模型未經驗證能流暢書寫這種語言，因此沿用組合答案。');
    expect(reasonText(en, reason)).toBe('The model is not measured to write this language fluently, so the composed answer stands.');
    expect(reasonText(en, 'declined: a forecast or advice is declined in fixed words')).toBe(
      'Forecasts and advice are declined in fixed words.',
    );
  });

  it('adds the detail where it says which check failed', () => {
    expect(reasonText(en, 'ungrounded: "9.9%" is not in the report')).toBe(
      'The model’s wording failed a check against the report’s figures. ("9.9%" is not in the report)',
    );
    expect(reasonText(zh, 'ungrounded: "9.9%" is not in the report')).toBe('模型的措辭未通過與報告數字的核對。（"9.9%" is not in the report）');
  });

  it('still says something for a reason it does not know', () => {
    expect(reasonText(en, 'cosmic_rays: a bit flipped')).toBe('Another reason, given by the server. (cosmic_rays: a bit flipped)');
  });
});
