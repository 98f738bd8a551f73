import { describe, expect, it } from 'vitest';
import { scopeOf } from '../../src/pages/Keys';

describe('a new key’s scope from the form', () => {
  const now = new Date('2026-01-01T00:00:00Z');

  it('splits route tags on commas and drops blanks', () => {
    expect(scopeOf(' nodes, network ,,', '', now)).toEqual({ tags: ['nodes', 'network'], expires_at: null });
  });

  it('turns days into an expiry time from now', () => {
    expect(scopeOf('', '7', now)).toEqual({ tags: null, expires_at: '2026-01-08T00:00:00.000Z' });
  });

  it('leaves both limits off when both fields are blank', () => {
    expect(scopeOf('  ', ' ', now)).toEqual({ tags: null, expires_at: null });
  });
});
