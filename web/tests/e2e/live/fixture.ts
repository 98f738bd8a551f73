/** The running `qcl up` for live tests (started by ../qclUp.ts): its URL and admin key; tests skip without it. */
import { test as base, type Page } from '@playwright/test';
import { prepare } from '../helpers';

export interface QclUp {
  url: string;
  key: string;
  /** GET an API path with the admin key and parse the JSON. */
  get<T>(path: string): Promise<T>;
}

export const test = base.extend<{ qcl: QclUp }>({
  qcl: async ({}, use, testInfo) => {
    const url = process.env.QCL_E2E_URL;
    const key = process.env.QCL_E2E_KEY;
    testInfo.skip(!url || !key, 'no qcl up running (QCL_E2E_SKIP_LIVE=1)');
    await use({
      url: url!,
      key: key!,
      async get<T>(path: string) {
        const response = await fetch(new URL(path, url), { headers: { Authorization: `Bearer ${key}` } });
        if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
        return (await response.json()) as T;
      },
    });
  },
});

export { expect } from '@playwright/test';

/** Open the dashboard on the real server with the admin key stored, at `path` (e.g. "/#/ask"). */
export async function openDashboard(page: Page, qcl: QclUp, path = '/', key: string | null = qcl.key): Promise<void> {
  await prepare(page, key);
  await page.goto(new URL(path, qcl.url).toString());
}
