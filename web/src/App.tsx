/**
 * The shell: skip link, header (sync state, language, theme, shortcuts), navigation (a permanent drawer on wide
 * screens, a temporary one on phones), the page, and the global keyboard shortcuts.
 */
import {
  Alert,
  AppBar,
  Badge,
  Box,
  CssBaseline,
  Drawer,
  IconButton,
  Link,
  List,
  ListItem,
  ListItemButton,
  ListItemIcon,
  ListItemText,
  ListSubheader,
  Toolbar,
  Tooltip,
  Typography,
  useMediaQuery,
} from '@mui/material';
import { ThemeProvider } from '@mui/material/styles';
import { useEffect, useMemo, useRef, useState, type ComponentType, type ReactNode } from 'react';
import type { LiveConnection } from './api/live';
import type { Translate } from './i18n/translate';
import { ADMIN_PAGES, focusFromHash, hrefFor, navigate, PAGES, useRoute, type Page } from './lib/route';
import { pageKey, shortcutFor, type ShortcutAction } from './lib/shortcuts';
import { REFRESH_EVENT } from './lib/useApi';
import { Alerts } from './pages/Alerts';
import { Logs } from './pages/Logs';
import { Ask, QUESTION_INPUT_ID } from './pages/Ask';
import { Audit } from './pages/Audit';
import { ConfigVersions } from './pages/ConfigVersions';
import { Jobs } from './pages/Jobs';
import { Keys } from './pages/Keys';
import { Nodes } from './pages/Nodes';
import { Oracle } from './pages/Oracle';
import { Overview } from './pages/Overview';
import { Settings } from './pages/Settings';
import { Tasks } from './pages/Tasks';
import { Workflows } from './pages/Workflows';
import { useIsAdmin } from './state/admin';
import { LiveProvider } from './state/live';
import { SessionProvider, useSession } from './state/session';
import { SettingsProvider, useSettings } from './state/settings';
import { AlertsBadge, useAlertCounts, type AlertCounts } from './ui/AlertsBadge';
import {
  AlertsIcon,
  AskIcon,
  AuditIcon,
  DarkModeIcon,
  HelpIcon,
  HistoryIcon,
  JobsIcon,
  KeyIcon,
  LogsIcon,
  LightModeIcon,
  MenuIcon,
  NodesIcon,
  OracleIcon,
  OverviewIcon,
  SettingsIcon,
  TasksIcon,
  TranslateIcon,
  WorkflowsIcon,
} from './ui/icons';
import { openShortcutHelp, ShortcutsDialog } from './ui/ShortcutsDialog';
import { SyncIndicator } from './ui/SyncIndicator';
import { buildTheme } from './ui/theme';

const DRAWER_WIDTH = 220;
const LOGIN_REFUSALS = ['login_used', 'login_expired', 'login_invalid'] as const;

/** Why the login URL did not sign in, in words: used, expired, unknown, or another failure with its code. */
function loginMessage(t: Translate, code: string): string {
  const known = LOGIN_REFUSALS.find((refusal) => refusal === code);
  return known ? t(`login.${known}`) : t('login.failed', { code });
}

const PAGE_VIEW: Record<Page, { component: ComponentType; icon: ComponentType }> = {
  overview: { component: Overview, icon: OverviewIcon },
  ask: { component: Ask, icon: AskIcon },
  nodes: { component: Nodes, icon: NodesIcon },
  oracle: { component: Oracle, icon: OracleIcon },
  tasks: { component: Tasks, icon: TasksIcon },
  jobs: { component: Jobs, icon: JobsIcon },
  workflows: { component: Workflows, icon: WorkflowsIcon },
  alerts: { component: Alerts, icon: AlertsIcon },
  logs: { component: Logs, icon: LogsIcon },
  settings: { component: Settings, icon: SettingsIcon },
  keys: { component: Keys, icon: KeyIcon },
  audit: { component: Audit, icon: AuditIcon },
  versions: { component: ConfigVersions, icon: HistoryIcon },
};

function ThemeRoot({ children }: { children: ReactNode }) {
  const { theme } = useSettings();
  const prefersDark = useMediaQuery('(prefers-color-scheme: dark)', { noSsr: true });
  const mode = theme === 'system' ? (prefersDark ? 'dark' : 'light') : theme;
  const muiTheme = useMemo(() => buildTheme(mode), [mode]);
  return (
    <ThemeProvider theme={muiTheme}>
      <CssBaseline />
      {children}
    </ThemeProvider>
  );
}

function Navigation({ page, alerts, onNavigate }: { page: Page; alerts: AlertCounts | null; onNavigate?: () => void }) {
  const { t } = useSettings();
  const admin = useIsAdmin() === true;
  return (
    <Box component="nav" aria-label={t('nav.label')}>
      <List>
        {PAGES.map((name, index) => {
          const Icon = PAGE_VIEW[name].icon;
          return (
            <ListItem key={name} disablePadding>
              <ListItemButton
                component="a"
                href={hrefFor(name)}
                selected={name === page}
                aria-current={name === page ? 'page' : undefined}
                onClick={onNavigate}
                data-testid={`nav-${name}`}
              >
                <ListItemIcon sx={{ minWidth: 40 }}>
                  <Icon />
                </ListItemIcon>
                <ListItemText primary={t(`nav.${name}`)} />
                {name === 'alerts' && <AlertsBadge counts={alerts} />}
                <Box component="kbd" aria-hidden sx={{ fontFamily: 'monospace', fontSize: 12, color: 'text.secondary' }}>
                  {pageKey(index)}
                </Box>
              </ListItemButton>
            </ListItem>
          );
        })}
      </List>
      {admin && (
        <List subheader={<ListSubheader disableSticky>{t('nav.admin')}</ListSubheader>} data-testid="nav-admin">
          {ADMIN_PAGES.map((name) => {
            const Icon = PAGE_VIEW[name].icon;
            return (
              <ListItem key={name} disablePadding>
                <ListItemButton
                  component="a"
                  href={hrefFor(name)}
                  selected={name === page}
                  aria-current={name === page ? 'page' : undefined}
                  onClick={onNavigate}
                  data-testid={`nav-${name}`}
                >
                  <ListItemIcon sx={{ minWidth: 40 }}>
                    <Icon />
                  </ListItemIcon>
                  <ListItemText primary={t(`nav.${name}`)} />
                </ListItemButton>
              </ListItem>
            );
          })}
        </List>
      )}
    </Box>
  );
}

function Shell() {
  const { t, language, setLanguage, theme, setTheme, apiKey } = useSettings();
  const session = useSession();
  const page = useRoute();
  const wide = useMediaQuery('(min-width:900px)', { noSsr: true });
  const [drawerOpen, setDrawerOpen] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  const prefersDark = useMediaQuery('(prefers-color-scheme: dark)', { noSsr: true });
  const dark = theme === 'dark' || (theme === 'system' && prefersDark);
  const alerts = useAlertCounts();

  // On navigation, move focus to the new page's heading so screen readers announce it (no full reload happens).
  // Compared with the previous page, not "first render": React's StrictMode runs mount effects twice.
  const shownPage = useRef(page);
  useEffect(() => {
    document.title = `${t(`nav.${page}`)} · ${t('app.title')}`;
    if (shownPage.current === page) return;
    shownPage.current = page;
    if (!focusFromHash(window.location.hash)) heading.current?.focus();
  }, [page, t]);

  useEffect(() => {
    const run = (action: ShortcutAction) => {
      if (action.type === 'navigate') navigate(action.page);
      else if (action.type === 'ask') {
        if (page === 'ask') document.getElementById(QUESTION_INPUT_ID)?.focus();
        else navigate('ask', QUESTION_INPUT_ID); // the Ask page focuses it when it mounts
      } else if (action.type === 'toggleTheme') setTheme(dark ? 'light' : 'dark');
      else if (action.type === 'toggleLanguage') setLanguage(language === 'zh-TW' ? 'en' : 'zh-TW');
      else if (action.type === 'refresh') window.dispatchEvent(new Event(REFRESH_EVENT));
      else openShortcutHelp();
    };
    const onKey = (event: KeyboardEvent) => {
      if (document.querySelector('[role="dialog"]')) return; // a dialog owns the keyboard
      const action = shortcutFor(event);
      if (!action) return;
      event.preventDefault();
      run(action);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [dark, language, page, setLanguage, setTheme]);

  const PageComponent = PAGE_VIEW[page].component;
  return (
    <Box sx={{ display: 'flex', minHeight: '100vh' }}>
      <Link
        href="#main"
        onClick={(event) => {
          event.preventDefault();
          heading.current?.focus();
        }}
        sx={{
          position: 'absolute',
          left: 8,
          top: -48,
          zIndex: 2000,
          bgcolor: 'background.paper',
          p: 1,
          '&:focus': { top: 8 },
        }}
      >
        {t('app.skipToContent')}
      </Link>
      <AppBar position="fixed" color="default" elevation={0} sx={{ zIndex: (muiTheme) => muiTheme.zIndex.drawer + 1, borderBottom: 1, borderColor: 'divider', bgcolor: 'background.paper' }}>
        <Toolbar sx={{ gap: 1, px: { xs: 1, sm: 2 } }}>
          {!wide && (
            <IconButton
              edge="start"
              onClick={() => setDrawerOpen(true)}
              aria-label={alerts?.total ? `${t('nav.open')} · ${t('alerts.badge', { total: alerts.total, page: alerts.page })}` : t('nav.open')}
              data-testid="nav-open"
            >
              <Badge color={alerts?.page ? 'error' : 'warning'} variant="dot" invisible={!alerts?.total}>
                <MenuIcon />
              </Badge>
            </IconButton>
          )}
          <Typography variant="h6" component="p" noWrap sx={{ fontWeight: 700, flexShrink: 1, minWidth: 0, display: { xs: 'none', sm: 'block' } }}>
            {t('app.title')}
          </Typography>
          <Box sx={{ flexGrow: 1 }} />
          <SyncIndicator />
          <Tooltip title={t('shortcuts.language')}>
            <IconButton
              onClick={() => setLanguage(language === 'zh-TW' ? 'en' : 'zh-TW')}
              aria-label={t('header.switchLanguage')}
              data-testid="toggle-language"
            >
              <TranslateIcon />
            </IconButton>
          </Tooltip>
          <Tooltip title={t('shortcuts.theme')}>
            <IconButton onClick={() => setTheme(dark ? 'light' : 'dark')} aria-label={t('header.switchTheme')}>
              {dark ? <LightModeIcon /> : <DarkModeIcon />}
            </IconButton>
          </Tooltip>
          <Tooltip title={t('shortcuts.help')}>
            <IconButton onClick={openShortcutHelp} aria-label={t('shortcuts.help')} sx={{ display: { xs: 'none', sm: 'inline-flex' } }}>
              <HelpIcon />
            </IconButton>
          </Tooltip>
        </Toolbar>
      </AppBar>
      {wide ? (
        <Drawer variant="permanent" sx={{ width: DRAWER_WIDTH, flexShrink: 0, '& .MuiDrawer-paper': { width: DRAWER_WIDTH } }}>
          <Toolbar />
          <Navigation page={page} alerts={alerts} />
        </Drawer>
      ) : (
        <Drawer variant="temporary" open={drawerOpen} onClose={() => setDrawerOpen(false)} slotProps={{ paper: { sx: { width: DRAWER_WIDTH } } }}>
          <Navigation page={page} alerts={alerts} onNavigate={() => setDrawerOpen(false)} />
        </Drawer>
      )}
      <Box component="main" id="main" sx={{ flexGrow: 1, minWidth: 0, p: { xs: 1.5, sm: 3 } }}>
        <Toolbar />
        <Typography variant="h5" component="h1" ref={heading} tabIndex={-1} sx={{ mb: 2, fontWeight: 700, outline: 'none' }} data-testid="page-title">
          {t(`nav.${page}`)}
        </Typography>
        {session.loginError && (
          <Alert severity="error" sx={{ mb: 2 }} data-testid="login-error">
            {loginMessage(t, session.loginError)}
          </Alert>
        )}
        {!apiKey && session.status === 'signed-out' && page !== 'settings' && (
          <Alert severity="info" sx={{ mb: 2 }} data-testid="no-key">
            {t('app.noKey')} <Link href={hrefFor('settings')}>{t('errors.goToSettings')}</Link>
          </Alert>
        )}
        <PageComponent key={page} />
      </Box>
      <ShortcutsDialog />
    </Box>
  );
}

export function App({ connection }: { connection?: LiveConnection }) {
  return (
    <SettingsProvider>
      <SessionProvider>
        <ThemeRoot>
          <LiveProvider connection={connection}>
            <Shell />
          </LiveProvider>
        </ThemeRoot>
      </SessionProvider>
    </SettingsProvider>
  );
}
