/** Contrast of the themes' colour pairs against WCAG AA (4.5:1 for normal text), in both modes. */
import { describe, expect, it } from 'vitest';
import { buildTheme, contrastRatio, PALETTES, type Mode } from '../../src/ui/theme';

const STATUS = ['primary', 'success', 'warning', 'error', 'info'] as const;
const MODES: Mode[] = ['light', 'dark'];

describe('contrastRatio', () => {
  it('is 21 for black on white', () => {
    expect(contrastRatio('#000000', '#ffffff')).toBeCloseTo(21, 5);
  });

  it('is 1 for a colour on itself', () => {
    expect(contrastRatio('#0b57d0', '#0b57d0')).toBe(1);
  });
});

describe.each(MODES)('the %s theme', (mode) => {
  const p = PALETTES[mode];

  it.each(STATUS)('%s chips keep their label readable (contrast text on the colour ≥ 4.5)', (name) => {
    expect(contrastRatio(p.contrastText, p[name])).toBeGreaterThanOrEqual(4.5);
  });

  it.each(STATUS)('%s as text on the page and on cards is readable (≥ 4.5)', (name) => {
    expect(contrastRatio(p[name], p.background)).toBeGreaterThanOrEqual(4.5);
    expect(contrastRatio(p[name], p.paper)).toBeGreaterThanOrEqual(4.5);
  });

  it('secondary text is readable on cards', () => {
    expect(contrastRatio(p.secondaryText, p.paper)).toBeGreaterThanOrEqual(4.5);
  });

  it('builds an MUI theme of that mode with those colours', () => {
    const theme = buildTheme(mode);
    expect(theme.palette.mode).toBe(mode);
    expect(theme.palette.warning.main).toBe(p.warning);
  });
});
