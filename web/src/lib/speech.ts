/**
 * Voice input through the Web Speech API where the browser has it (Chrome/Edge/Safari as webkitSpeechRecognition);
 * where it has not, `speechRecognition()` is null and the mic button is not rendered at all.
 */
import type { Language } from '../api/types';

interface RecognitionResultEvent {
  results: ArrayLike<ArrayLike<{ transcript: string }> & { isFinal: boolean }>;
}

export interface Recognition {
  lang: string;
  interimResults: boolean;
  continuous: boolean;
  onresult: ((event: RecognitionResultEvent) => void) | null;
  onerror: ((event: { error: string }) => void) | null;
  onend: (() => void) | null;
  start(): void;
  stop(): void;
}

type RecognitionConstructor = new () => Recognition;

export function speechRecognition(scope: object = window): RecognitionConstructor | null {
  const candidate = scope as { SpeechRecognition?: RecognitionConstructor; webkitSpeechRecognition?: RecognitionConstructor };
  return candidate.SpeechRecognition ?? candidate.webkitSpeechRecognition ?? null;
}

/** BCP 47 tag the recogniser expects for our languages. */
export function recognitionLanguage(language: Language): string {
  return language === 'zh-TW' ? 'zh-TW' : 'en-US';
}

/** The transcript so far: every result's best alternative, joined. */
export function transcriptOf(event: RecognitionResultEvent): string {
  return Array.from(event.results)
    .map((result) => result[0]?.transcript ?? '')
    .join('')
    .trim();
}
