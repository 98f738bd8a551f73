/**
 * Light and dark themes. Status colours are darker (light) or lighter (dark) than MUI's defaults so that text on
 * them and them as text on the page reach WCAG AA 4.5:1 (MUI's default warning orange with white text is ~3:1,
 * which axe reports as a serious violation); tests/unit/theme.test.ts checks every pair.
 */
import { createTheme, type Theme } from '@mui/material/styles';

// CJK first: a zh-TW page must not fall back glyph by glyph to a Japanese or Simplified face.
const FONT_STACK = [
  '"Noto Sans TC"',
  '"Noto Sans CJK TC"',
  '"PingFang TC"',
  '"Microsoft JhengHei"',
  'Roboto',
  'system-ui',
  '-apple-system',
  '"Segoe UI"',
  'sans-serif',
].join(',');

export const PALETTES = {
  light: {
    background: '#f6f7f9',
    paper: '#ffffff',
    text: '#1a1c1e',
    secondaryText: '#4a4f55',
    primary: '#0b57d0',
    success: '#1b6b2f',
    warning: '#8a4a00',
    error: '#b3261e',
    info: '#0b57d0',
    contrastText: '#ffffff',
  },
  dark: {
    background: '#111315',
    paper: '#1b1e21',
    text: '#e8eaed',
    secondaryText: '#b4b9bf',
    primary: '#8ab4f8',
    success: '#7bd88f',
    warning: '#ffb74d',
    error: '#f28b82',
    info: '#8ab4f8',
    contrastText: '#111315',
  },
} as const;

export type Mode = keyof typeof PALETTES;

export function buildTheme(mode: Mode): Theme {
  const p = PALETTES[mode];
  const color = (main: string) => ({ main, contrastText: p.contrastText });
  return createTheme({
    palette: {
      mode,
      background: { default: p.background, paper: p.paper },
      text: { primary: p.text, secondary: p.secondaryText },
      primary: color(p.primary),
      success: color(p.success),
      warning: color(p.warning),
      error: color(p.error),
      info: color(p.info),
    },
    typography: { fontFamily: FONT_STACK },
    shape: { borderRadius: 10 },
    components: {
      MuiCard: { defaultProps: { variant: 'outlined' } },
    },
  });
}

/** WCAG 2.x contrast ratio of two #rrggbb colours. */
export function contrastRatio(a: string, b: string): number {
  const luminance = (hex: string) => {
    const [r, g, bl] = [1, 3, 5].map((i) => {
      const c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}
