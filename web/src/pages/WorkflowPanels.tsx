/**
 * The Workflows page's parts: the run form (the argument as JSON in Monaco) and an execution's detail with its
 * steps as a timeline, each with its result or error.
 */
import { Alert, Box, Button, Chip, Stack, Typography } from '@mui/material';
import { useTheme } from '@mui/material/styles';
import { lazy, Suspense, useState } from 'react';
import type { ApiError } from '../api/client';
import { api } from '../api/endpoints';
import type { Execution, ExecutionDetail, Step } from '../api/types';
import { formatDateTime, formatShortDuration } from '../lib/format';
import { asApiError } from '../lib/useApi';
import { exampleArgument, isActive, parseArgument, stepMs, timeline } from '../lib/workflows';
import { useSettings } from '../state/settings';
import { ApiErrorAlert } from '../ui/ApiErrorAlert';
import { ExecutionStateChip } from '../ui/chips';
import { LoadingBlock } from '../ui/Loading';

const JsonEditor = lazy(() => import('../ui/JsonEditor'));

export function RunForm({ name, onStarted }: { name: string; onStarted: (execution: Execution) => void }) {
  const { t } = useSettings();
  const theme = useTheme();
  const [text, setText] = useState(() => exampleArgument(name));
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const parsed = parseArgument(text);

  async function run() {
    if (!parsed.ok) return;
    setRunning(true);
    setError(null);
    try {
      onStarted(await api.runWorkflow(name, parsed.value));
    } catch (failure) {
      setError(asApiError(failure));
    } finally {
      setRunning(false);
    }
  }

  return (
    <Stack spacing={1} data-testid="run-form">
      <Typography variant="body2" color="text.secondary" id="run-argument-label">
        {t('workflows.argument', { name })}
      </Typography>
      <Box data-testid="run-argument" sx={{ border: 1, borderColor: 'divider' }}>
        <Suspense fallback={<LoadingBlock height={160} />}>
          <JsonEditor
            value={text}
            readOnly={false}
            dark={theme.palette.mode === 'dark'}
            label={t('workflows.argument', { name })}
            onChange={setText}
            height="160px"
          />
        </Suspense>
      </Box>
      {!parsed.ok && (
        <Alert severity="error" role="alert" data-testid="argument-invalid">
          {t('json.invalid', { message: parsed.message })}
        </Alert>
      )}
      <Box>
        <Button variant="contained" onClick={() => void run()} disabled={running || !parsed.ok} data-testid="run-workflow">
          {running ? t('workflows.starting') : t('workflows.run', { name })}
        </Button>
      </Box>
      {error && <ApiErrorAlert error={error} />}
    </Stack>
  );
}

function JsonBlock({ value, testId }: { value: unknown; testId?: string }) {
  return (
    <Box
      component="pre"
      tabIndex={0}
      data-testid={testId}
      sx={{ m: 0, p: 1, bgcolor: 'action.hover', borderRadius: 1, whiteSpace: 'pre-wrap', wordBreak: 'break-word', fontSize: 13, maxHeight: 240, overflow: 'auto' }}
    >
      {typeof value === 'string' ? value : JSON.stringify(value, null, 2)}
    </Box>
  );
}

function StepItem({ step }: { step: Step }) {
  const { t, language } = useSettings();
  const failed = step.outcome === 'error';
  return (
    <Box
      component="li"
      data-testid="step"
      data-step={step.step}
      data-outcome={step.outcome}
      sx={{ borderLeft: 3, borderColor: failed ? 'error.main' : 'success.main', pl: 1.5, py: 0.5, listStyle: 'none' }}
    >
      <Box sx={{ display: 'flex', gap: 1, alignItems: 'center', flexWrap: 'wrap' }}>
        <Typography component="span" sx={{ fontWeight: 600, fontFamily: 'monospace' }}>
          {step.step}
        </Typography>
        <Chip size="small" label={t(`workflows.outcome.${step.outcome}`)} color={failed ? 'error' : step.outcome === 'return' ? 'success' : 'default'} />
        <Typography component="span" variant="body2" color="text.secondary">
          {t('workflows.stepMeta', {
            kind: step.kind,
            at: formatDateTime(step.started_at * 1000, language),
            duration: formatShortDuration(stepMs(step), language),
          })}
        </Typography>
      </Box>
      {step.path !== step.step && (
        <Typography variant="caption" color="text.secondary" sx={{ fontFamily: 'monospace' }}>
          {step.path}
        </Typography>
      )}
      {failed ? (
        <Box sx={{ mt: 0.5 }}>
          <Typography variant="body2">{t('workflows.stepError')}</Typography>
          <JsonBlock value={step.error} testId="step-error" />
        </Box>
      ) : step.result !== null && step.result !== undefined ? (
        <Box sx={{ mt: 0.5 }}>
          <Typography variant="body2">{t('workflows.stepResult')}</Typography>
          <JsonBlock value={step.result} testId="step-result" />
        </Box>
      ) : null}
    </Box>
  );
}

export function ExecutionView({
  execution,
  canOperate,
  cancelling,
  onCancel,
}: {
  execution: ExecutionDetail;
  canOperate: boolean;
  cancelling: boolean;
  onCancel: () => void;
}) {
  const { t, language } = useSettings();
  const steps = timeline(execution.steps);
  return (
    <Stack spacing={2} data-testid="execution" data-execution={execution.id}>
      <Box sx={{ display: 'flex', gap: 1, alignItems: 'center', flexWrap: 'wrap' }}>
        <ExecutionStateChip state={execution.state} />
        <Typography variant="body2" color="text.secondary">
          {t('workflows.executionMeta', {
            revision: execution.revision,
            trigger: execution.trigger,
            created: formatDateTime(execution.created_at * 1000, language),
            steps: execution.steps_done,
          })}
        </Typography>
        <Box sx={{ flexGrow: 1 }} />
        {canOperate && isActive(execution) && (
          <Button color="warning" variant="outlined" size="small" disabled={cancelling} onClick={onCancel} data-testid="cancel-execution">
            {t('workflows.cancel')}
          </Button>
        )}
      </Box>
      <Box>
        <Typography variant="subtitle2" component="h3">
          {t('workflows.argumentGiven')}
        </Typography>
        <JsonBlock value={execution.argument} />
      </Box>
      <Box>
        <Typography variant="subtitle2" component="h3">
          {t('workflows.steps', { count: steps.length })}
        </Typography>
        {steps.length === 0 ? (
          <Typography variant="body2" color="text.secondary">
            {t('workflows.noSteps')}
          </Typography>
        ) : (
          <Stack component="ol" spacing={1} sx={{ m: 0, p: 0 }} aria-label={t('workflows.steps', { count: steps.length })} data-testid="steps">
            {steps.map((step, index) => (
              <StepItem key={`${step.path}-${index}`} step={step} />
            ))}
          </Stack>
        )}
      </Box>
      {execution.state === 'succeeded' && (
        <Box>
          <Typography variant="subtitle2" component="h3">
            {t('workflows.result')}
          </Typography>
          <JsonBlock value={execution.result} testId="execution-result" />
        </Box>
      )}
      {execution.error !== null && execution.error !== undefined && (
        <Alert severity={execution.state === 'cancelled' ? 'warning' : 'error'} data-testid="execution-error">
          {t('workflows.error')}
          <JsonBlock value={execution.error} />
        </Alert>
      )}
    </Stack>
  );
}
