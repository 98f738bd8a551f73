/**
 * Why an answer or narrative is the composed (template) text rather than the model's: the API's fallback_reason is
 * "<code>: <detail>" (qcl/narrate/service.py, phrasing.py, pipeline/narrator.py), the detail in English for
 * operators. The UI says the code in the user's language (`reason.<code>`), and adds the detail where it tells the
 * reader something the sentence does not (which figure failed a check, what the model raised).
 *
 *     const { code, detail } = parseReason('ungrounded: "143" names no quantity');  // code "ungrounded"
 *     t(`reason.${code}`)
 */
import type { Translate } from '../i18n/translate';

/** The codes the API writes; anything else reads as `other`. */
export const REASON_CODES = [
  'composed',
  'declined',
  'injection',
  'language_unsupported',
  'ungrounded',
  'model_error',
  'truncated',
  'templates_only',
  'model_unavailable',
  'model_busy',
  'deadline',
  'behind',
] as const;

export type ReasonCode = (typeof REASON_CODES)[number] | 'other';

const KNOWN: ReadonlySet<string> = new Set(REASON_CODES);
/** Codes whose sentence says it all; the others show the server's detail after it. */
const SELF_EXPLAINED: ReadonlySet<ReasonCode> = new Set([
  'composed',
  'declined',
  'injection',
  'language_unsupported',
  'templates_only',
]);

export interface Reason {
  code: ReasonCode;
  detail: string; // the text after "<code>: " (all of it for an unknown code)
  showDetail: boolean;
}

export function parseReason(reason: string): Reason {
  const match = /^([a-z_]+):\s*(.*)$/s.exec(reason.trim());
  if (match && KNOWN.has(match[1]!)) {
    const code = match[1] as ReasonCode;
    return { code, detail: match[2]!, showDetail: !SELF_EXPLAINED.has(code) && match[2]!.length > 0 };
  }
  return { code: 'other', detail: reason.trim(), showDetail: reason.trim().length > 0 };
}

/** The reason as the reader sees it: the code's sentence in their language, then the server's detail if useful. */
export function reasonText(t: Translate, reason: string): string {
  const parsed = parseReason(reason);
  const sentence = t(`reason.${parsed.code}`);
  return parsed.showDetail ? t('reason.withDetail', { reason: sentence, detail: parsed.detail }) : sentence;
}
