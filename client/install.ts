import { initializeB24Frame } from '@bitrix24/b24jssdk';

// The server has already stored the portal and bound events, placements and the line when it served this
// page; what is left is the one call only the frame can make.
async function finishInstall(): Promise<void> {
  const status = document.getElementById('install');
  try {
    const b24 = await initializeB24Frame();
    if (b24.isInstallMode) await b24.installFinish();
    if (status) status.textContent = 'Installed.';
  } catch (error) {
    if (status) status.textContent = `Install could not finish: ${error instanceof Error ? error.message : String(error)}`;
  }
}
void finishInstall();
