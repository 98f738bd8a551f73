/**
 * Browser tests: `npm run test:e2e` (builds first). Debian's Chromium drives them (never a downloaded browser:
 * `npx playwright install` must not run here). Two projects:
 * - mocked: the built app under `vite preview` with the API's CSP, /api/** answered inside the browser by
 *   tests/e2e/mock/mockApi.ts — the dashboard's own behaviour, no Python needed.
 * - live: the built app served by a real `qcl up` on loopback, started by tests/e2e/qclUp.ts (global setup; set
 *   QCL_E2E_SKIP_LIVE=1 to run without Python — `npm run test:e2e:mocked`).
 * Screenshots of every test land in test-results/screenshots/ (the CI artifact).
 */
import { defineConfig } from '@playwright/test';

const CHROMIUM = process.env.QCL_CHROMIUM ?? '/usr/bin/chromium';
const PREVIEW_PORT = Number(process.env.QCL_PREVIEW_PORT ?? 4173);

export default defineConfig({
  testDir: 'tests/e2e',
  outputDir: 'test-results/artifacts',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  workers: 2, // the CI machine has 2 cores
  reporter: [['list']],
  globalSetup: './tests/e2e/qclUp.ts',
  use: {
    browserName: 'chromium',
    timezoneId: 'UTC',
    locale: 'zh-TW',
    launchOptions: {
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
    trace: 'off',
  },
  projects: [
    {
      name: 'mocked',
      testDir: 'tests/e2e/mock',
      use: { baseURL: `http://127.0.0.1:${PREVIEW_PORT}` },
    },
    {
      name: 'live',
      testDir: 'tests/e2e/live',
      timeout: 90_000, // answers and tasks go through the real pipeline
    },
  ],
  webServer: [
    {
      command: `npx vite preview --host 127.0.0.1 --port ${PREVIEW_PORT} --strictPort`,
      url: `http://127.0.0.1:${PREVIEW_PORT}`,
      reuseExistingServer: false,
      timeout: 30_000,
    },
  ],
});
