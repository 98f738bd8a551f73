/** Vitest setup: in DOM tests, a clean localStorage for every test and the rendered tree unmounted after it. */
import { afterEach, beforeEach } from 'vitest';

const dom = typeof window !== 'undefined';

beforeEach(() => {
  if (dom) localStorage.clear();
});

afterEach(async () => {
  if (!dom) return;
  const { cleanup } = await import('@testing-library/react');
  cleanup();
});

// toBeInTheDocument, toHaveTextContent, toHaveAttribute … (only meaningful, and only loaded, with a DOM)
if (dom) await import('@testing-library/jest-dom/vitest');
