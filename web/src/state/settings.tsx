/** The user's settings (language, theme, refresh interval, API key), kept in localStorage so they survive reloads. */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { loadApiKey, saveApiKey } from '../api/client';
import type { Language } from '../api/types';
import { DEFAULT_LANGUAGE, LANGUAGES, translator, type Translate } from '../i18n/translate';

export type ThemeChoice = 'system' | 'light' | 'dark';
export const THEME_CHOICES: readonly ThemeChoice[] = ['system', 'light', 'dark'];
export const REFRESH_CHOICES_S: readonly number[] = [0, 10, 30, 60, 300]; // 0 = live updates only
const DEFAULT_REFRESH_S = 30;

const KEYS = { language: 'qcl.language', theme: 'qcl.theme', refresh: 'qcl.refreshS' } as const;

function read<T>(key: string, allowed: readonly T[], fallback: T, parse: (raw: string) => T): T {
  try {
    const raw = localStorage.getItem(key);
    if (raw === null) return fallback;
    const value = parse(raw);
    return allowed.includes(value) ? value : fallback;
  } catch {
    return fallback;
  }
}

function write(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // storage blocked: the setting lasts for this page only
  }
}

export interface Settings {
  language: Language;
  theme: ThemeChoice;
  refreshS: number;
  apiKey: string | null;
  t: Translate;
  setLanguage(language: Language): void;
  setTheme(theme: ThemeChoice): void;
  setRefreshS(seconds: number): void;
  setApiKey(key: string | null): void;
}

const SettingsContext = createContext<Settings | null>(null);

export function SettingsProvider({ children }: { children: ReactNode }) {
  const [language, setLanguageState] = useState<Language>(() =>
    read(KEYS.language, LANGUAGES, DEFAULT_LANGUAGE, (raw) => raw as Language),
  );
  const [theme, setThemeState] = useState<ThemeChoice>(() =>
    read(KEYS.theme, THEME_CHOICES, 'system', (raw) => raw as ThemeChoice),
  );
  const [refreshS, setRefreshState] = useState<number>(() =>
    read(KEYS.refresh, REFRESH_CHOICES_S, DEFAULT_REFRESH_S, Number),
  );
  const [apiKey, setApiKeyState] = useState<string | null>(() => loadApiKey());

  useEffect(() => {
    document.documentElement.lang = language;
  }, [language]);

  const setLanguage = useCallback((value: Language) => {
    write(KEYS.language, value);
    setLanguageState(value);
  }, []);
  const setTheme = useCallback((value: ThemeChoice) => {
    write(KEYS.theme, value);
    setThemeState(value);
  }, []);
  const setRefreshS = useCallback((value: number) => {
    write(KEYS.refresh, String(value));
    setRefreshState(value);
  }, []);
  const setApiKey = useCallback((value: string | null) => {
    saveApiKey(value);
    setApiKeyState(loadApiKey());
  }, []);

  const value = useMemo<Settings>(
    () => ({
      language,
      theme,
      refreshS,
      apiKey,
      t: translator(language),
      setLanguage,
      setTheme,
      setRefreshS,
      setApiKey,
    }),
    [language, theme, refreshS, apiKey, setLanguage, setTheme, setRefreshS, setApiKey],
  );
  return <SettingsContext.Provider value={value}>{children}</SettingsContext.Provider>;
}

export function useSettings(): Settings {
  const settings = useContext(SettingsContext);
  if (!settings) throw new Error('useSettings outside SettingsProvider');
  return settings;
}

/** The translator of the current language (the common case of useSettings). */
export function useT(): Translate {
  return useSettings().t;
}
