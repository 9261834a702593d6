/**
 * The settings page's tabs (issue 12 point 6), laid out like Bitrix24's own settings pages, and which one is open.
 *
 * The open tab is kept in the frame's URL hash (#tab=users) and in localStorage: a reload of the frame keeps the hash,
 * but Bitrix24 reloads the app page with a fresh form POST (no hash), where the stored one brings the admin back.
 * Storage may be refused in a third-party frame; then the page simply opens on the first tab.
 */
export const SETTINGS_TABS = ['connection', 'users', 'contact-sync', 'auto-create', 'calls', 'activity', 'click-to-call'] as const;
export type SettingsTab = (typeof SETTINGS_TABS)[number];

const STORAGE_KEY = 'pbx-connector:settings-tab';
const HASH = /^#tab=([a-z-]+)$/;

/** The tab's i18n key under shell.tabs (camelCase: contact-sync → contactSync). */
export function tabKey(tab: SettingsTab): string {
  return tab.replace(/-([a-z])/g, (_m, letter: string) => letter.toUpperCase());
}

export function isSettingsTab(value: unknown): value is SettingsTab {
  return typeof value === 'string' && (SETTINGS_TABS as readonly string[]).includes(value);
}

function stored(): string | null {
  try {
    return window.localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

/** The tab to open: the URL's, else the one last open, else Connection. */
export function initialSettingsTab(): SettingsTab {
  const fromHash = HASH.exec(window.location.hash)?.[1];
  if (isSettingsTab(fromHash)) return fromHash;
  const remembered = stored();
  return isSettingsTab(remembered) ? remembered : 'connection';
}

export function rememberSettingsTab(tab: SettingsTab): void {
  // replaceState: switching tabs must not add entries to the Bitrix24 page's history (its Back button).
  window.history.replaceState(window.history.state, '', `${window.location.pathname}${window.location.search}#tab=${tab}`);
  try {
    window.localStorage.setItem(STORAGE_KEY, tab);
  } catch {
    // Storage refused (third-party frame): the hash still keeps it for this page.
  }
}
