/**
 * The two install doors of the product, called the way Bitrix24 calls them (or an attacker imitating it): the
 * installer page POST (installation-master.md: tokens in the form body, DOMAIN/PROTOCOL/LANG/APP_SID in the query)
 * and the ONAPPINSTALL event (on-app-install.md: form-encoded `auth[...]`).
 */
export async function postInstaller(appUrl: string, fields: Record<string, string>, query: Record<string, string>): Promise<Response> {
  const q = new URLSearchParams({ PROTOCOL: '0', LANG: 'en', APP_SID: 'sid', ...query });
  return fetch(`${appUrl}/install?${q.toString()}`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ AUTH_EXPIRES: '3600', status: 'L', PLACEMENT: 'DEFAULT', ...fields }).toString(),
  });
}

export async function postInstallEvent(appUrl: string, auth: Record<string, string>): Promise<Response> {
  const form = new URLSearchParams({ event: 'ONAPPINSTALL', 'data[VERSION]': '1', 'data[INSTALLED]': 'Y', ts: '1' });
  for (const [k, v] of Object.entries(auth)) form.set(`auth[${k}]`, v);
  return fetch(`${appUrl}/b24/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
}
