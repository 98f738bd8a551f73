/** No user-facing string is written into the components: everything a person reads comes from src/i18n/. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { zhTW } from '../../src/i18n/zh-TW';
import { findHardcodedStrings, referencedKeys } from './hardcodedStrings';

const SRC = join(__dirname, '../../src');

function sourceFiles(dir: string, extensions = ['.tsx']): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'i18n' ? [] : sourceFiles(path, extensions);
    return extensions.some((extension) => entry.name.endsWith(extension)) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

describe('the scanner', () => {
  it('finds text between tags', () => {
    expect(findHardcodedStrings('const a = <p>Hello there</p>;')).toEqual([{ line: 1, text: 'Hello there' }]);
  });

  it('finds Chinese text between tags', () => {
    expect(findHardcodedStrings('const a = <p>網路健康</p>;')).toHaveLength(1);
  });

  it('finds a string literal child', () => {
    expect(findHardcodedStrings("const a = <p>{'Loading'}</p>;")).toHaveLength(1);
  });

  it('finds a readable attribute', () => {
    expect(findHardcodedStrings('const a = <input aria-label="Search" />;')).toHaveLength(1);
    expect(findHardcodedStrings("const a = <T label={`Name`} />;")).toHaveLength(1);
  });

  it('allows punctuation, translated text and non-readable attributes', () => {
    const source = `const a = <Box className="row" data-testid="x" sx={{ p: 1 }} label={t('k')}>— · {t('k')} {value}</Box>;`;
    expect(findHardcodedStrings(source)).toEqual([]);
  });

  it('does not take TypeScript generics for tags', () => {
    expect(findHardcodedStrings('const [a] = useState<Page>(() => pick(window.location.hash));')).toEqual([]);
  });
});

describe('the dashboard source', () => {
  const files = sourceFiles(SRC);

  it('has components to scan', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it('has no hard-coded user-facing strings', () => {
    const hits = files.flatMap((file) =>
      findHardcodedStrings(readFileSync(file, 'utf8'), file).map((hit) => `${relative(SRC, file)}:${hit.line}: ${hit.text}`),
    );
    expect(hits).toEqual([]);
  });
});

describe('the message tables', () => {
  it('hold no message that no code can reach (a leftover after a change)', () => {
    const literals = new Set<string>();
    const prefixes = new Set<string>();
    for (const file of sourceFiles(SRC, ['.ts', '.tsx'])) {
      const found = referencedKeys(readFileSync(file, 'utf8'), file);
      found.literals.forEach((literal) => literals.add(literal));
      found.prefixes.forEach((prefix) => prefixes.add(prefix));
    }
    const unreachable = Object.keys(zhTW).filter(
      (key) => !literals.has(key) && ![...prefixes].some((prefix) => key.startsWith(prefix)),
    );
    expect(unreachable).toEqual([]);
  });
});
