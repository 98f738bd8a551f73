/**
 * One question on the Ask page, from sending to its final answer:
 *
 *     const controller = new AbortController();
 *     await runAsk(api, { question, language }, controller.signal, (step) => setAsking((s) => step(s)));
 *
 * Phases: `waiting` (nothing yet) → `composed` (the composed answer is shown: every figure exact) → `phrasing` (the
 * model's checked sentences arrive) → `final` (the model's phrasing, checked, or the composed answer with why).
 * The answer is asked as a Server-Sent Events stream; when streaming fails (network, a broken or unreadable stream,
 * a 5xx) the JSON answer is asked instead (`recovered: 'json'`), and if that fails too a composed answer already
 * shown becomes the final one (`recovered: 'composed'`). An HTTP refusal (401, 403, 422, 429, 503) is thrown: asking
 * again the other way would be refused the same. Nothing is updated once `signal` aborts; `cancelled` then keeps
 * the composed answer of a question asked again before its phrasing ended.
 */
import { ApiError } from '../api/client';
import type { AIInsight, AnswerStreamEvent, Language, QuestionRequest } from '../api/types';

export type AskPhase = 'waiting' | 'composed' | 'phrasing' | 'final';

export interface Asking {
  question: string;
  language: Language;
  phase: AskPhase;
  composed: AIInsight | null;
  sentences: string[]; // the model's phrasing so far, each sentence checked by the server before it was sent
  final: AIInsight | null;
  recovered: 'json' | 'composed' | 'cancelled' | null; // how the final answer was reached when the stream did not end it
}

export type AskStep = (current: Asking) => Asking;

export interface AnswerApi {
  askStream(body: QuestionRequest, options: { signal?: AbortSignal }): AsyncIterable<AnswerStreamEvent>;
  ask(body: QuestionRequest, options: { signal?: AbortSignal }): Promise<AIInsight>;
}

const STREAM_FAILURES: ReadonlySet<string> = new Set(['network', 'bad_response', 'server']);

export function startAsking(question: string, language: Language): Asking {
  return { question, language, phase: 'waiting', composed: null, sentences: [], final: null, recovered: null };
}

/** The state after one stream event (events after `final` change nothing). */
export function applyEvent(current: Asking, event: AnswerStreamEvent): Asking {
  if (current.phase === 'final') return current;
  if (event.type === 'answer') return { ...current, phase: 'composed', composed: event.insight };
  if (event.type === 'delta') return { ...current, phase: 'phrasing', sentences: [...current.sentences, event.text] };
  return { ...current, phase: 'final', final: event.insight };
}

/** The answer to show now: the final one, else the composed one (null while waiting). */
export function shownAnswer(asking: Asking): AIInsight | null {
  return asking.final ?? asking.composed;
}

/** Whether the final answer is the model's phrasing that passed every check (else it is the composed answer). */
export function isPhrased(insight: AIInsight): boolean {
  return insight.grounded && !insight.fallback_used;
}

function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

/** Ask, applying each step through `update`; resolves to the final answer (null once `signal` aborted). */
export async function runAsk(
  api: AnswerApi,
  body: QuestionRequest,
  signal: AbortSignal,
  update: (step: AskStep) => void,
): Promise<AIInsight | null> {
  let composed: AIInsight | null = null;
  try {
    for await (const event of api.askStream(body, { signal })) {
      if (signal.aborted) return null;
      if (event.type === 'answer') composed = event.insight;
      update((current) => applyEvent(current, event));
      if (event.type === 'final') return event.insight;
    }
    if (signal.aborted) return null;
    throw new ApiError({ kind: 'bad_response', message: 'the answer stream ended without a final answer' });
  } catch (failure) {
    if (signal.aborted || isAbort(failure)) return null;
    if (!(failure instanceof ApiError) || !STREAM_FAILURES.has(failure.kind)) throw failure;
    let answer: AIInsight;
    let recovered: Asking['recovered'] = 'json';
    try {
      answer = await api.ask(body, { signal });
    } catch (second) {
      if (signal.aborted || isAbort(second)) return null;
      if (composed === null) throw second;
      answer = composed;
      recovered = 'composed';
    }
    if (signal.aborted) return null;
    update((current) => ({ ...current, phase: 'final', final: answer, recovered }));
    return answer;
  }
}

/** An unfinished question that was cancelled (asked again, page left): its composed answer stands, if it came. */
export function cancelled(current: Asking): Asking | null {
  if (current.phase === 'final') return current;
  if (current.composed === null) return null;
  return { ...current, phase: 'final', final: current.composed, recovered: 'cancelled' };
}
