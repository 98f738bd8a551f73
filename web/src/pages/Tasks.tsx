/**
 * Tasks: submit an AI job (narration, question, oracle job) with POST /api/tasks and follow it — queued, running,
 * done or failed — through live `task-updates` events, polling GET /api/tasks/{id} while the channel is not live.
 */
import {
  Box,
  Button,
  Skeleton,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  TextField,
} from '@mui/material';
import { useEffect, useState, type FormEvent } from 'react';
import type { ApiError } from '../api/client';
import { api } from '../api/endpoints';
import type { Language, OracleTaskName, Task, TaskKind, TaskRequest } from '../api/types';
import { LANGUAGES } from '../i18n/translate';
import { formatDateTime } from '../lib/format';
import { addTaskId, isTerminal, loadTaskIds, newerTask, saveTaskIds } from '../lib/tasks';
import { asApiError } from '../lib/useApi';
import { useLiveTopic, useSyncState } from '../state/live';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { TaskStateChip } from '../ui/chips';
import { EmptyState } from '../ui/EmptyState';
import { JsonDialog } from '../ui/JsonViewer';
import { Panel } from '../ui/Panel';
import { QUESTION_MAX_LENGTH } from './Ask';
import { LabeledSelect } from '../ui/LabeledSelect';

const KINDS: readonly TaskKind[] = ['narration', 'question', 'oracle'];
const POLL_MS = 2000;

/** The oracle's analysis tasks (events.py OracleJobSpec.task; the API files the job over the newest hour). */
const ORACLE_TASKS: readonly OracleTaskName[] = ['analysis.health_score', 'analysis.findings', 'analysis.price_change_1h_pct'];

function taskRequest(kind: TaskKind, language: Language, question: string, oracleTask: OracleTaskName): TaskRequest {
  if (kind === 'oracle') return { kind, task: oracleTask, window: null };
  if (kind === 'question') return { kind, language, question: question.trim() };
  return { kind, language };
}

export function Tasks() {
  const { t, language } = useSettings();
  const sync = useSyncState();
  const [kind, setKind] = useState<TaskKind>('narration');
  const [question, setQuestion] = useState('');
  const [oracleTask, setOracleTask] = useState<OracleTaskName>('analysis.health_score');
  const [taskLanguage, setTaskLanguage] = useState<Language>(language);
  const [submitting, setSubmitting] = useState(false);
  const [submitError, setSubmitError] = useState<ApiError | null>(null);
  const [ids, setIds] = useState<string[]>(() => loadTaskIds());
  const [tasks, setTasks] = useState<Record<string, Task>>({});
  const [errors, setErrors] = useState<Record<string, ApiError>>({});
  const [json, setJson] = useState<Task | null>(null);

  const merge = (task: Task) => setTasks((current) => ({ ...current, [task.id]: newerTask(current[task.id], task) }));

  useLiveTopic('task', (task) => {
    if (ids.includes(task.id)) merge(task);
  });

  // Fetch every followed task once; then keep polling the unfinished ones unless live updates flow.
  const unfinished = ids.filter((id) => !tasks[id] || !isTerminal(tasks[id]!)).join(',');
  useEffect(() => {
    const pending = unfinished ? unfinished.split(',') : [];
    if (pending.length === 0) return;
    const controller = new AbortController();
    const poll = () =>
      pending.forEach((id) =>
        api.task(id, { signal: controller.signal }).then(merge, (failure: unknown) => {
          if (!controller.signal.aborted) setErrors((current) => ({ ...current, [id]: asApiError(failure) }));
        }),
      );
    poll();
    const timer = sync.state === 'live' ? undefined : setInterval(poll, POLL_MS);
    return () => {
      controller.abort();
      clearInterval(timer);
    };
  }, [unfinished, sync.state]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSubmitting(true);
    setSubmitError(null);
    try {
      const task = await api.submitTask(taskRequest(kind, taskLanguage, question, oracleTask));
      merge(task);
      setIds((current) => {
        const next = addTaskId(current, task.id);
        saveTaskIds(next);
        return next;
      });
    } catch (failure) {
      setSubmitError(asApiError(failure));
    } finally {
      setSubmitting(false);
    }
  }

  return (
    <Stack spacing={2}>
      <Panel title={t('tasks.submit')}>
        <Box component="form" onSubmit={submit} noValidate sx={{ display: 'flex', gap: 2, flexWrap: 'wrap', alignItems: 'flex-start' }}>
          <LabeledSelect
            id="task-kind"
            label={t('tasks.kind')}
            value={kind}
            options={KINDS}
            optionLabel={(value) => t(`tasks.kind.${value}`)}
            onChange={setKind}
            minWidth={180}
          />
          {kind !== 'oracle' && (
            <LabeledSelect
              id="task-language"
              label={t('ask.answerLanguage')}
              value={taskLanguage}
              options={LANGUAGES}
              optionLabel={(code) => t(`language.${code}`)}
              onChange={setTaskLanguage}
              minWidth={160}
            />
          )}
          {kind === 'oracle' && (
            <LabeledSelect
              id="oracle-task"
              label={t('tasks.oracleTask')}
              value={oracleTask}
              options={ORACLE_TASKS}
              optionLabel={(name) => t(`tasks.oracleTask.${name}`)}
              onChange={setOracleTask}
              minWidth={240}
              testId="oracle-task"
              helperText={t('tasks.oracleTaskHelp')}
            />
          )}
          {kind === 'question' && (
            <TextField
              size="small"
              label={t('ask.question')}
              value={question}
              onChange={(event) => setQuestion(event.target.value.slice(0, QUESTION_MAX_LENGTH))}
              sx={{ flex: '1 1 240px' }}
              required
            />
          )}
          <Button type="submit" variant="contained" disabled={submitting || (kind === 'question' && !question.trim())}>
            {submitting ? t('tasks.submitting') : t('tasks.submitButton')}
          </Button>
        </Box>
        {submitError && (
          <Box sx={{ mt: 2 }}>
            <ApiErrorAlert error={submitError} />
          </Box>
        )}
      </Panel>

      <Panel title={t('tasks.followed')}>
        {ids.length === 0 ? (
          <EmptyState title={t('tasks.none')} hint={t('tasks.noneHint')} />
        ) : (
          <TableContainer sx={{ overflowX: 'auto' }} tabIndex={0} role="region" aria-label={t('tasks.followed')}>
            <Table size="small" sx={{ '& th, & td': { whiteSpace: 'nowrap' } }} aria-label={t('tasks.followed')} data-testid="tasks">
              <TableHead>
                <TableRow>
                  <TableCell>{t('tasks.col.id')}</TableCell>
                  <TableCell>{t('tasks.col.kind')}</TableCell>
                  <TableCell>{t('tasks.col.status')}</TableCell>
                  <TableCell>{t('tasks.col.updated')}</TableCell>
                  <TableCell>{t('tasks.col.outcome')}</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {ids.map((id) => {
                  const task = tasks[id];
                  const error = errors[id];
                  return (
                    <TableRow key={id} data-task={id}>
                      <TableCell sx={{ fontFamily: 'monospace' }}>{id}</TableCell>
                      <TableCell>
                        {task ? t(`tasks.kind.${task.kind}`) : '—'}
                        {task?.job && (
                          <Box component="span" sx={{ color: 'text.secondary' }} data-testid="task-job">
                            {' · '}
                            {t('tasks.oracleSequence', { sequence: task.job.sequence })}
                          </Box>
                        )}
                      </TableCell>
                      <TableCell>{task ? <TaskStateChip state={task.state} /> : error ? null : <Skeleton width={60} aria-hidden />}</TableCell>
                      <TableCell>{task ? formatDateTime(task.updated_at, language) : '—'}</TableCell>
                      <TableCell sx={{ minWidth: 200, whiteSpace: 'normal !important' }}>
                        {error && !task ? (
                          <ApiErrorAlert error={error} />
                        ) : task?.state === 'failed' ? (
                          task.error ? t('tasks.failedWith', { code: task.error.code, message: task.error.message }) : t('tasks.failedNoReason')
                        ) : task?.state === 'done' ? (
                          <Button size="small" onClick={() => setJson(task)}>
                            {t('json.view')}
                          </Button>
                        ) : (
                          '—'
                        )}
                      </TableCell>
                    </TableRow>
                  );
                })}
              </TableBody>
            </Table>
          </TableContainer>
        )}
      </Panel>
      <JsonDialog open={json !== null} title={t('json.taskTitle', { id: json?.id ?? '' })} value={json} onClose={() => setJson(null)} />
    </Stack>
  );
}
