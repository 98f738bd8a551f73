/**
 * Playwright's global setup for the `live` project: start a real `qcl up` on loopback (any free port, a fresh
 * state directory, template narration so no model is converted), serving this build's dist/, and hand its URL and
 * admin key to the tests through the environment; the returned function stops it with Ctrl-C (SIGINT).
 *
 * QCL_E2E_SKIP_LIVE=1 skips it (the live tests then skip, saying so); QCL_BIN names the qcl executable
 * (default: the repository's .venv/bin/qcl).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const REPO = resolve(WEB, '..');
const START_TIMEOUT_MS = 90_000;

export default async function startQclUp(): Promise<(() => Promise<void>) | void> {
  if (process.env.QCL_E2E_SKIP_LIVE === '1') return;
  const bin = process.env.QCL_BIN ?? join(REPO, '.venv/bin/qcl');
  if (!existsSync(bin)) throw new Error(`qcl up: ${bin} does not exist (run make setup, or set QCL_E2E_SKIP_LIVE=1)`);
  if (!existsSync(join(WEB, 'dist/index.html'))) throw new Error('qcl up: web/dist is not built (npm run build)');
  const state = mkdtempSync(join(tmpdir(), 'qcl-e2e-'));
  const child = spawn(bin, ['up', '--port', '0'], {
    cwd: REPO,
    env: { ...process.env, QCL_STATE_DIR: state, QCL_NARRATE_MODEL: 'false', QCL_WEB_DIST: join(WEB, 'dist') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));

  const stop = async () => {
    await stopProcess();
    rmSync(state, { recursive: true, force: true });
  };
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

  let url: string;
  try {
    url = await new Promise<string>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`qcl up did not start in ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
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
  process.env.QCL_E2E_URL = url;
  process.env.QCL_E2E_KEY = readFileSync(join(state, 'admin.key'), 'utf8').trim();
  process.env.QCL_E2E_STATE = state;
  // Tasks complete only where a narrator consumes ai-requests; qcl up names each service it runs in its banner.
  process.env.QCL_E2E_NARRATOR = /^qcl up: narrator/m.test(output) ? '1' : '0';
  console.log(`qcl up: ${url} (state ${state})`);

  return stop;
}
