import { initializeB24Frame } from '@bitrix24/b24jssdk';
import { loadAppI18n } from './i18n/index.js';

// The server has already stored the portal and bound events, placements and the line when it served this
// page; what is left is the one call only the frame can make (https://apidocs.bitrix24.com/settings/app-installation/installation-finish.html).
async function finishInstall(): Promise<void> {
  const status = document.getElementById('install');
  let t = (await loadAppI18n(window.navigator.language.slice(0, 2))).global.t;
  try {
    const b24 = await initializeB24Frame();
    t = (await loadAppI18n(String(b24.getLang()))).global.t;
    if (status) status.textContent = t('install.working');
    if (b24.isInstallMode) await b24.installFinish();
    if (status) status.textContent = t('install.done');
  } catch (error) {
    if (status) status.textContent = `${t('install.failed')} ${error instanceof Error ? error.message : String(error)}`;
  }
}
void finishInstall();
