/**
 * A real `qcl up` on loopback for the `live` project: `startQcl` starts one (any free port, a fresh state directory,
 * serving this build's dist/) and resolves once it prints "running", with its URL and admin key; `stop` sends Ctrl-C
 * (SIGINT) and removes the state directory.
 *
 * The default export is Playwright's global setup: one `qcl up` with template narration (no model is loaded) shared
 * by the live tests through the environment. Tests that need more (the shard pool) start their own.
 *
 * QCL_E2E_SKIP_LIVE=1 skips it (the live tests then skip, saying so); QCL_BIN names the qcl executable
 * (default: the repository's .venv/bin/qcl).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const REPO = resolve(WEB, '..');
const START_TIMEOUT_MS = 90_000;

export interface RunningQcl {
  url: string;
  key: string;
  state: string;
  output(): string;
  stop(): Promise<void>;
}

export interface QclOptions {
  args?: string[];
  env?: Record<string, string>;
  startTimeoutMs?: number;
}

/**
 * Where the default model's conversion (about 40 s the first time) is kept: the pytest session's cache when
 * QCL_TEST_MODEL_CACHE_DIR names one, else test-results/.model-cache (kept between runs; Playwright only clears
 * test-results/artifacts).
 */
export function modelCacheDir(): string {
  const folder = process.env.QCL_TEST_MODEL_CACHE_DIR || join(WEB, 'test-results/.model-cache');
  mkdirSync(folder, { recursive: true });
  return folder;
}

export async function startQcl({ args = [], env = {}, startTimeoutMs = START_TIMEOUT_MS }: QclOptions = {}): Promise<RunningQcl> {
  const bin = process.env.QCL_BIN ?? join(REPO, '.venv/bin/qcl');
  if (!existsSync(bin)) throw new Error(`qcl up: ${bin} does not exist (run make setup, or set QCL_E2E_SKIP_LIVE=1)`);
  if (!existsSync(join(WEB, 'dist/index.html'))) throw new Error('qcl up: web/dist is not built (npm run build)');
  const state = mkdtempSync(join(tmpdir(), 'qcl-e2e-'));
  const child = spawn(bin, ['up', '--port', '0', ...args], {
    cwd: REPO,
    env: { ...process.env, QCL_STATE_DIR: state, QCL_WEB_DIST: join(WEB, 'dist'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));

  const stopProcess = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    await new Promise((done) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        done(undefined);
      }, 30_000);
      child.on('exit', () => {
        clearTimeout(timer);
        done(undefined);
      });
    });
  };
  const stop = async () => {
    await stopProcess();
    rmSync(state, { recursive: true, force: true });
  };

  let url: string;
  try {
    url = await new Promise<string>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`qcl up did not start in ${startTimeoutMs} ms:\n${output}`)), startTimeoutMs);
      const look = () => {
        const match = /qcl up: api\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (match && output.includes('qcl up: running')) {
          clearTimeout(timer);
          done(match[1]!);
        }
      };
      child.stdout.on('data', look);
      child.stderr.on('data', look); // qcl up prints its banner on stderr
      child.on('exit', (code) => fail(new Error(`qcl up exited with ${code}:\n${output}`)));
    });
  } catch (error) {
    await stop();
    throw error;
  }
  const key = readFileSync(join(state, 'admin.key'), 'utf8').trim();
  return { url, key, state, output: () => output, stop };
}

export default async function globalSetup(): Promise<(() => Promise<void>) | void> {
  if (process.env.QCL_E2E_SKIP_LIVE === '1') return;
  const qcl = await startQcl({ env: { QCL_NARRATE_MODEL: 'false' } });
  process.env.QCL_E2E_URL = qcl.url;
  process.env.QCL_E2E_KEY = qcl.key;
  process.env.QCL_E2E_STATE = qcl.state;
  console.log(`qcl up: ${qcl.url} (state ${qcl.state})`);
  return qcl.stop;
}
