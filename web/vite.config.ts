/**
 * Build: `npm run build` (writes dist/, which `qcl up` serves at /). Dev: `npm run dev` proxies /api to the API at
 * $QCL_API (default http://127.0.0.1:8080). Unit tests: `npm test` (Vitest, jsdom).
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';
import { CONTENT_SECURITY_POLICY } from './csp.ts';

const api = process.env.QCL_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    // No data: URIs, so the CSP needs no `data:` source (see csp.ts).
    assetsInlineLimit: 0,
    // Monaco is one large lazy chunk by nature; it loads only when a JSON viewer opens.
    chunkSizeWarningLimit: 4096,
  },
  server: {
    proxy: { '/api': { target: api, ws: true, changeOrigin: false } },
  },
  preview: {
    headers: { 'Content-Security-Policy': CONTENT_SECURITY_POLICY },
  },
  test: {
    // Pure logic runs in Node (fast); files that need a DOM say `@vitest-environment jsdom` in their first comment.
    environment: 'node',
    include: ['tests/unit/**/*.test.{ts,tsx}'],
    setupFiles: ['tests/unit/setup.ts'],
    restoreMocks: true,
  },
});
