/**
 * Ask: a question (typed, a quick template, or spoken where the browser can) goes to POST /api/ai/question; the
 * answer comes back as a card with sources and confidence. Below, the searchable history of narratives and answers.
 */
import {
  Box,
  Button,
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
import type { Language } from '../api/types';
import { LANGUAGES } from '../i18n/translate';
import { askedInsight, filterInsights, insightKey, mergeInsights, type InsightView } from '../lib/history';
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

export function Ask() {
  const { t, language } = useSettings();
  const [question, setQuestion] = useState('');
  const [answerLanguage, setAnswerLanguage] = useState<Language>(language);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [answers, setAnswers] = useState<InsightView[]>([]);
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

  useLiveTopic('insight', (insight) => history.setData((current) => mergeInsights([insight], current ?? [])));

  async function ask(text: string) {
    const trimmed = text.trim();
    if (!trimmed || pending) return;
    setQuestion(trimmed);
    setPending(true);
    setError(null);
    try {
      const answer = await api.ask({ question: trimmed, language: answerLanguage });
      const withQuestion = askedInsight(answer, trimmed);
      setAnswers((current) => [withQuestion, ...current]);
      history.setData((current) => mergeInsights([withQuestion], current ?? []));
    } catch (failure) {
      setError(asApiError(failure));
    } finally {
      setPending(false);
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
              <Chip key={key} label={t(key)} onClick={() => void ask(t(key))} disabled={pending} data-testid="ask-template" />
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
              disabled={pending || !question.trim()}
              endIcon={pending ? <CircularProgress size={16} color="inherit" /> : <SendIcon />}
            >
              {pending ? t('ask.asking') : t('ask.submit')}
            </Button>
          </Stack>
        </Box>
      </Panel>

      {error && <ApiErrorAlert error={error} onRetry={() => void ask(question)} />}
      {pending && <LoadingBlock height={200} />}
      {answers.length > 0 && (
        <Stack spacing={2} aria-live="polite" data-testid="answers">
          {answers.map((answer) => (
            <InsightCard key={insightKey(answer)} insight={answer} />
          ))}
        </Stack>
      )}

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
