import type { Config } from './config.js';

/**
 * What an operator must fix before Bitrix24 can use this server (issue 12 point 11), said once at start. The server
 * still starts (a local try-out, the demo and the tests run on plain HTTP without an app registration).
 */
export interface StartWarning {
  code: 'PUBLIC_URL_NOT_HTTPS' | 'B24_APP_CREDENTIALS_UNSET';
  message: string;
}

export function startWarnings(config: Config): StartWarning[] {
  const warnings: StartWarning[] = [];
  if (!config.publicUrl.startsWith('https://')) {
    // Bitrix24 Cloud is served over HTTPS and loads the app into a frame of its page: a browser blocks an http:// frame
    // there (mixed content), and the install and events handlers must be reachable from the internet.
    warnings.push({
      code: 'PUBLIC_URL_NOT_HTTPS',
      message: `PUBLIC_URL is ${config.publicUrl}, not HTTPS: Bitrix24 cannot open the app there. Put the server behind a reverse proxy with TLS and set PUBLIC_URL to its https:// address.`,
    });
  }
  const unset = [
    ...(config.b24ClientId === '' ? ['B24_CLIENT_ID'] : []),
    ...(config.b24ClientSecret === '' ? ['B24_CLIENT_SECRET'] : []),
  ];
  if (unset.length > 0) {
    // Without them no portal's tokens can be refreshed (https://apidocs.bitrix24.com/settings/oauth/index.html):
    // the app stops talking to a portal an hour after its install.
    warnings.push({
      code: 'B24_APP_CREDENTIALS_UNSET',
      message: `${unset.join(' and ')} ${unset.length > 1 ? 'are' : 'is'} not set: register the app in Bitrix24 (Applications → Developer resources → Local application), copy its Application ID and key into B24_CLIENT_ID and B24_CLIENT_SECRET, and restart.`,
    });
  }
  return warnings;
}
