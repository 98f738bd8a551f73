/**
 * Finds user-facing text written straight into JSX instead of going through the message tables: text between tags,
 * string literals in `{…}` children, and string values of the attributes people read or hear (label, title,
 * placeholder, alt, aria-label, helperText, …). Text without any letter (punctuation, "—", "·") is allowed.
 *
 * Parses with rolldown's parser (Vite's bundler, already installed) so TypeScript generics and comparisons are never
 * mistaken for tags.
 */
import { parseAst } from 'rolldown/parseAst';

export const READABLE_ATTRIBUTES = new Set([
  'label',
  'title',
  'placeholder',
  'alt',
  'aria-label',
  'aria-description',
  'aria-valuetext',
  'aria-roledescription',
  'helperText',
  'tooltip',
  'primary',
  'secondary',
]);

const LETTER = /\p{L}/u;

export interface Hit {
  line: number;
  text: string;
}

type Node = { type: string; start: number; end: number; [key: string]: unknown };

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && typeof (value as Node).type === 'string';
}

function stringValue(node: Node | null | undefined): string | null {
  if (!node) return null;
  if (node.type === 'Literal' && typeof node.value === 'string') return node.value;
  if (node.type === 'TemplateLiteral') {
    const quasis = node.quasis as { value: { cooked: string } }[];
    return quasis.map((quasi) => quasi.value.cooked).join(' ');
  }
  return null;
}

export function findHardcodedStrings(source: string, filename = 'file.tsx'): Hit[] {
  const program = parseAst(source, { lang: 'tsx' }, filename) as unknown as Node;
  const hits: Hit[] = [];
  const lineOf = (offset: number) => source.slice(0, offset).split('\n').length;
  const report = (node: Node, text: string) => {
    if (LETTER.test(text)) hits.push({ line: lineOf(node.start), text: text.trim() });
  };

  const visit = (node: Node) => {
    if (node.type === 'JSXText') report(node, String(node.value));
    if (node.type === 'JSXExpressionContainer' && isNode(node.expression)) {
      const text = stringValue(node.expression);
      if (text !== null) report(node, text);
    }
    if (node.type === 'JSXAttribute') {
      const name = node.name as Node & { name?: string; namespace?: { name: string } };
      const attribute = typeof name.name === 'string' ? name.name : '';
      if (READABLE_ATTRIBUTES.has(attribute)) {
        const value = node.value as Node | null;
        const text = value?.type === 'JSXExpressionContainer' ? stringValue(value.expression as Node) : stringValue(value);
        if (text !== null) report(node, text);
      }
      return; // expressions inside other attributes (className, sx, data-*) are not read by people
    }
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) value.forEach((child) => isNode(child) && visit(child));
      else if (isNode(value)) visit(value);
    }
  };
  visit(program);
  return hits;
}

/**
 * The message keys a source file can reach: every string literal, and the fixed start of every template literal
 * (`nav.${page}` reaches every key starting "nav.").
 */
export function referencedKeys(source: string, filename = 'file.tsx'): { literals: Set<string>; prefixes: Set<string> } {
  const program = parseAst(source, { lang: filename.endsWith('.ts') ? 'ts' : 'tsx' }, filename) as unknown as Node;
  const literals = new Set<string>();
  const prefixes = new Set<string>();
  const visit = (node: Node) => {
    if (node.type === 'Literal' && typeof node.value === 'string') literals.add(node.value);
    if (node.type === 'TemplateLiteral') {
      const first = (node.quasis as { value: { cooked: string } }[])[0]?.value.cooked ?? '';
      if ((node.expressions as unknown[]).length > 0 && first) prefixes.add(first);
      else literals.add(first);
    }
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) value.forEach((child) => isNode(child) && visit(child));
      else if (isNode(value)) visit(value);
    }
  };
  visit(program);
  return { literals, prefixes };
}
