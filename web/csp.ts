/**
 * The Content-Security-Policy the built dashboard runs under: `vite preview` serves dist/ with it (so the e2e smoke
 * test proves the bundle needs nothing more), and the API server should send the same header with `/`.
 *
 * Why each directive is there:
 * - script-src 'self': Vite emits only external module scripts (no inline bootstrap).
 * - style-src 'unsafe-inline': Emotion (MUI) and Monaco insert <style> elements at run time; without a per-response
 *   nonce that the server would have to template into index.html, inline styles must be allowed.
 * - worker-src 'self': Monaco's editor and JSON workers are separate same-origin files (Vite `?worker` imports).
 * - connect-src 'self': REST and the WebSocket (/api/ws) are same-origin; CSP Level 3 lets 'self' match ws:/wss: of
 *   the page's host.
 * - font-src / img-src 'self': Monaco's codicon font and the favicon are files in dist/assets
 *   (build.assetsInlineLimit = 0, so nothing becomes a data: URI).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');
