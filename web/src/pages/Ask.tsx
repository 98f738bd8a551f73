/**
 * Ask: a question (typed, a quick template, or spoken where the browser can) goes to POST /api/ai/question as a
 * Server-Sent Events stream (lib/asking.ts): the composed answer shows at once, the model's checked sentences appear
 * under it marked as being phrased, then the final answer replaces it, saying whether it is the model's phrasing
 * (every figure checked) or the composed answer and why. Asking again or leaving the page cancels a question still
 * being phrased. Below, the searchable history of narratives and answers.
 */
import {
  Box,
  Button,
  LinearProgress,
  Chip,
  CircularProgress,
  IconButton,
  InputAdornment,
  Stack,
  TextField,
  Tooltip,
  Typography,
} from '@mui/material';
import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import type { ApiError } from '../api/client';
import { api } from '../api/endpoints';
import type { AIInsight, Language } from '../api/types';
import { LANGUAGES, type Translate } from '../i18n/translate';
import { cancelled, isPhrased, runAsk, shownAnswer, startAsking, type Asking, type AskStep } from '../lib/asking';
import { askedInsight, filterInsights, insightKey, mergeInsights, type InsightView } from '../lib/history';
import { parseReason, reasonText } from '../lib/reasons';
import { focusFromHash } from '../lib/route';
import { recognitionLanguage, speechRecognition, transcriptOf, type Recognition } from '../lib/speech';
import { asApiError, useApi } from '../lib/useApi';
import { useLiveTopic } from '../state/live';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { EmptyState } from '../ui/EmptyState';
import { MicIcon, SearchIcon, SendIcon } from '../ui/icons';
import { InsightCard } from '../ui/InsightCard';
import { Panel } from '../ui/Panel';
import { LoadingBlock } from '../ui/Loading';
import { LabeledSelect } from '../ui/LabeledSelect';

export const QUESTION_MAX_LENGTH = 500; // events.py AIRequest.question max_length
const TEMPLATE_KEYS = ['ask.template.health', 'ask.template.price', 'ask.template.emptyTicks'] as const;
const HISTORY_LIMIT = 100;
const HISTORY_SHOWN = 20;

export const QUESTION_INPUT_ID = 'ask-question';

interface Entry {
  key: string;
  asking: Asking;
}

let entries = 0;

/** What the shown answer is: the model's checked phrasing, or the composed answer and why (and how it was reached). */
function AnswerStatus({ asking, insight, t }: { asking: Asking; insight: AIInsight; t: Translate }) {
  const phrased = asking.phase === 'final' && isPhrased(insight);
  // "composed: …" only repeats what the line says; any other reason says why the model's phrasing is not shown.
  const why = insight.fallback_reason && parseReason(insight.fallback_reason).code !== 'composed';
  const reason = why ? reasonText(t, insight.fallback_reason!) : '';
  return (
    <Typography variant="caption" color="text.secondary" component="p" data-testid="answer-origin" title={insight.fallback_reason ?? undefined}>
      {phrased ? t('ask.origin.phrased', { model: insight.model }) : t('ask.origin.composed', { reason })}
      {asking.recovered && <> {t(`ask.recovered.${asking.recovered}`)}</>}
    </Typography>
  );
}

/** The model's sentences so far, each checked by the server before it was sent; not the answer yet. */
function PhrasingDraft({ asking, t }: { asking: Asking; t: Translate }) {
  return (
    <Box
      data-testid="phrasing"
      aria-live="off" // each sentence is not announced; the final answer is
      sx={{ border: 1, borderStyle: 'dashed', borderColor: 'divider', borderRadius: 1, p: 1.5, mb: 2 }}
    >
      <Typography variant="caption" color="text.secondary" component="p">
        {asking.sentences.length > 0 ? t('ask.phrasing') : t('ask.phrasingWait')}
      </Typography>
      <Box aria-hidden sx={{ my: 1 }}>
        <LinearProgress />
      </Box>
      {asking.sentences.length > 0 && (
        <Typography variant="body1" sx={{ whiteSpace: 'pre-wrap', fontStyle: 'italic' }} lang={asking.language} data-testid="phrasing-text">
          {asking.sentences.join('')}
        </Typography>
      )}
    </Box>
  );
}

function AnswerEntry({ entry, t }: { entry: Entry; t: Translate }) {
  const { asking } = entry;
  const insight = shownAnswer(asking);
  if (!insight) return null;
  const view: InsightView = { ...insight, id: entry.key, time: '', question: asking.question };
  return (
    <Box data-testid="answer" data-phase={asking.phase}>
      <InsightCard insight={view} status={<AnswerStatus asking={asking} insight={insight} t={t} />}>
        {asking.phase !== 'final' && <PhrasingDraft asking={asking} t={t} />}
      </InsightCard>
    </Box>
  );
}

export function Ask() {
  const { t, language } = useSettings();
  const [question, setQuestion] = useState('');
  const [answerLanguage, setAnswerLanguage] = useState<Language>(language);
  const [error, setError] = useState<ApiError | null>(null);
  const [answers, setAnswers] = useState<Entry[]>([]);
  const asking = useRef<AbortController | null>(null);
  const [query, setQuery] = useState('');
  const [listening, setListening] = useState(false);
  const recognition = useRef<Recognition | null>(null);
  const Speech = useMemo(() => speechRecognition(), []);
  const history = useApi<InsightView[]>(
    (signal) => api.insights(HISTORY_LIMIT, { signal }).then((body) => body.insights),
    [],
    { merge: (current, fetched) => mergeInsights(fetched, current ?? []) }, // keep the questions asked here
  );

  useEffect(() => setAnswerLanguage(language), [language]);
  useEffect(() => {
    if (focusFromHash(window.location.hash) === QUESTION_INPUT_ID) document.getElementById(QUESTION_INPUT_ID)?.focus();
  }, []);
  useEffect(() => () => recognition.current?.stop(), []);
  useEffect(() => () => asking.current?.abort(), []); // leaving the page cancels a question being phrased

  useLiveTopic('insight', (insight) => history.setData((current) => mergeInsights([insight], current ?? [])));

  async function ask(text: string) {
    const trimmed = text.trim();
    if (!trimmed) return;
    asking.current?.abort(); // asking again cancels the question still being phrased
    const controller = new AbortController();
    asking.current = controller;
    const key = `ask:${(entries += 1)}`;
    const update = (step: AskStep) =>
      setAnswers((current) => current.map((entry) => (entry.key === key ? { ...entry, asking: step(entry.asking) } : entry)));
    for (const entry of answers) {
      const kept = entry.asking.phase === 'final' ? null : cancelled(entry.asking);
      if (kept?.final) history.setData((current) => mergeInsights([askedInsight(kept.final!, kept.question)], current ?? []));
    }
    setQuestion(trimmed);
    setError(null);
    setAnswers((current) => [
      { key, asking: startAsking(trimmed, answerLanguage) },
      ...current.flatMap((entry) => {
        const kept = cancelled(entry.asking);
        return kept ? [{ ...entry, asking: kept }] : [];
      }),
    ]);
    try {
      const final = await runAsk(api, { question: trimmed, language: answerLanguage }, controller.signal, update);
      if (final) history.setData((current) => mergeInsights([askedInsight(final, trimmed)], current ?? []));
    } catch (failure) {
      if (controller.signal.aborted) return;
      setAnswers((current) => current.filter((entry) => entry.key !== key));
      setError(asApiError(failure));
    } finally {
      if (asking.current === controller) asking.current = null;
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    void ask(question);
  }

  function toggleVoice() {
    if (!Speech) return;
    if (listening) {
      recognition.current?.stop();
      return;
    }
    const recogniser = new Speech();
    recogniser.lang = recognitionLanguage(answerLanguage);
    recogniser.interimResults = true;
    recogniser.continuous = false;
    recogniser.onresult = (event) => setQuestion(transcriptOf(event).slice(0, QUESTION_MAX_LENGTH));
    recogniser.onerror = () => setListening(false);
    recogniser.onend = () => setListening(false);
    recognition.current = recogniser;
    setListening(true);
    recogniser.start();
  }

  const filtered = filterInsights(history.data ?? [], query);
  const pending = answers[0]?.asking.phase === 'waiting';

  return (
    <Stack spacing={2}>
      <Panel title={t('ask.title')}>
        <Box component="form" onSubmit={submit} noValidate>
          <TextField
            id={QUESTION_INPUT_ID}
            label={t('ask.question')}
            value={question}
            onChange={(event) => setQuestion(event.target.value.slice(0, QUESTION_MAX_LENGTH))}
            onKeyDown={(event) => {
              if (event.key === 'Enter' && !event.shiftKey) {
                event.preventDefault();
                void ask(question);
              }
            }}
            fullWidth
            multiline
            minRows={2}
            helperText={t('ask.helper', { count: question.length, max: QUESTION_MAX_LENGTH })}
            slotProps={{
              htmlInput: { maxLength: QUESTION_MAX_LENGTH, lang: answerLanguage },
              input: Speech
                ? {
                    endAdornment: (
                      <InputAdornment position="end">
                        <Tooltip title={listening ? t('ask.voiceStop') : t('ask.voice')}>
                          <IconButton
                            onClick={toggleVoice}
                            aria-label={listening ? t('ask.voiceStop') : t('ask.voice')}
                            aria-pressed={listening}
                            color={listening ? 'error' : 'default'}
                            data-testid="voice-input"
                          >
                            <MicIcon />
                          </IconButton>
                        </Tooltip>
                      </InputAdornment>
                    ),
                  }
                : undefined,
            }}
          />
          <Stack direction="row" spacing={1} useFlexGap sx={{ flexWrap: 'wrap', alignItems: 'center', mt: 1 }}>
            <Typography variant="body2" color="text.secondary" component="span" id="templates-label">
              {t('ask.templates')}
            </Typography>
            {TEMPLATE_KEYS.map((key) => (
              <Chip key={key} label={t(key)} onClick={() => void ask(t(key))} data-testid="ask-template" />
            ))}
          </Stack>
          <Stack direction="row" spacing={1} useFlexGap sx={{ mt: 2, flexWrap: 'wrap', alignItems: 'center' }}>
            <LabeledSelect
              id="answer-language"
              label={t('ask.answerLanguage')}
              value={answerLanguage}
              options={LANGUAGES}
              optionLabel={(code) => t(`language.${code}`)}
              onChange={setAnswerLanguage}
              minWidth={160}
            />
            <Button
              type="submit"
              variant="contained"
              disabled={!question.trim()}
              endIcon={pending ? <CircularProgress size={16} color="inherit" /> : <SendIcon />}
            >
              {pending ? t('ask.asking') : t('ask.submit')}
            </Button>
          </Stack>
        </Box>
      </Panel>

      {error && <ApiErrorAlert error={error} onRetry={() => void ask(question)} />}
      {pending && <LoadingBlock height={200} />}
      {/* Always in the page: a live region added together with its first answer is often not announced. */}
      <Stack spacing={2} aria-live="polite" data-testid="answers" sx={{ '&:empty': { display: 'none' } }}>
        {answers.map((entry) => (
          <AnswerEntry key={entry.key} entry={entry} t={t} />
        ))}
      </Stack>

      <Panel
        title={t('ask.history')}
        action={
          <TextField
            size="small"
            type="search"
            label={t('ask.search')}
            value={query}
            onChange={(event) => setQuery(event.target.value)}
            slotProps={{
              input: {
                startAdornment: (
                  <InputAdornment position="start">
                    <SearchIcon fontSize="small" />
                  </InputAdornment>
                ),
              },
            }}
            sx={{ width: { xs: 160, sm: 240 } }}
          />
        }
      >
        {history.loading ? (
          <LoadingBlock height={160} />
        ) : history.error && !history.data ? (
          <ApiErrorAlert error={history.error} onRetry={history.reload} />
        ) : filtered.length === 0 ? (
          <EmptyState title={query ? t('ask.noMatch', { query }) : t('ask.noHistory')} />
        ) : (
          <Stack spacing={2} data-testid="history">
            <Typography variant="body2" color="text.secondary">
              {t('ask.historyCount', { shown: Math.min(filtered.length, HISTORY_SHOWN), total: filtered.length })}
            </Typography>
            {filtered.slice(0, HISTORY_SHOWN).map((item) => (
              <InsightCard key={insightKey(item)} insight={item} />
            ))}
          </Stack>
        )}
      </Panel>
    </Stack>
  );
}
