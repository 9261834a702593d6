/**
 * Issue 12 point 11: the product seen from outside Bitrix24, on the real server (server/index.ts) with the built client.
 * What an operator cares about: typing the server's address into a browser tells them what it is and the two URLs to
 * paste into Bitrix24 (before: a blank page saying the Bitrix24 window could not be reached), while Bitrix24's own
 * frame still gets the app; and a start that Bitrix24 cannot use (plain-HTTP PUBLIC_URL, no app credentials) says
 * so in the log instead of failing an hour later — without ever writing a secret there.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startWarnings } from '../../../server/start-warnings.js';
import { DEFAULT_APP_SCOPES } from '../../emulators/bitrix24/scopes.js';
import { captureLogs } from '../../support/log-capture.js';
import { freePort, startTestServer, tempDataDir, testConfig } from './server-under-test.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(env: Record<string, string>) {
  const data = await tempDataDir();
  const port = await freePort();
  const capture = captureLogs('info');
  const running = await startTestServer(testConfig(data.dir, port, env), { log: capture.log });
  cleanups.push(data.remove, running.close);
  return { url: running.url, capture };
}

describe('GET / opened in a browser, not in Bitrix24', () => {
  it('says what the app is and gives the handler and installer URLs to paste; the Bitrix24 frame still gets the app', async () => {
    const { url } = await server({ PUBLIC_URL: 'https://pbx.example.com' });

    const direct = await fetch(`${url}/`, { headers: { 'Sec-Fetch-Dest': 'document' } });
    expect(direct.status).toBe(200);
    expect(direct.headers.get('cache-control')).toBe('no-store');
    expect(direct.headers.get('content-security-policy')).toContain("default-src 'self'");
    const page = await direct.text();
    expect(page).toContain('<h1>PBX connector for Bitrix24</h1>');
    expect(page).toContain('Local application');
    expect(page).toContain('<code>https://pbx.example.com/</code>');
    expect(page).toContain('<code>https://pbx.example.com/install</code>');
    // Every permission a full registration has (missed-call tasks need `task`): an admin copying the list misses none.
    for (const scope of DEFAULT_APP_SCOPES) expect(page).toContain(`<code>${scope}</code>`);
    expect(page).not.toContain('id="app"');
    expect(page).not.toContain('not HTTPS');
    // An old browser without Sec-Fetch-* headers, typing the address: the same page.
    expect(await (await fetch(`${url}/`)).text()).toBe(page);

    // Bitrix24 opens the app with a form POST into its frame, DOMAIN and APP_SID in the query (reference §1.2).
    const framed = [
      await fetch(`${url}/?DOMAIN=portal.bitrix24.com&PROTOCOL=1&LANG=en&APP_SID=abc`, { method: 'POST', headers: { 'Sec-Fetch-Dest': 'iframe' } }),
      await fetch(`${url}/?DOMAIN=portal.bitrix24.com&APP_SID=abc`),
      await fetch(`${url}/`, { headers: { 'Sec-Fetch-Dest': 'iframe' } }),
    ];
    for (const res of framed) {
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain('<div id="app"');
      expect(html).not.toContain('Local application');
    }
  });

  it('tells the operator on that page when PUBLIC_URL is not HTTPS', async () => {
    const { url } = await server({ PUBLIC_URL: 'http://pbx.example.com:8080' });
    const page = await (await fetch(`${url}/`)).text();
    expect(page).toContain('<code>http://pbx.example.com:8080/install</code>');
    expect(page).toContain('is not HTTPS');
  });
});

describe('start warnings', () => {
  it('a plain-HTTP PUBLIC_URL and a missing app secret are each one warning line at start, naming what to set, never a secret', async () => {
    const { capture } = await server({ PUBLIC_URL: 'http://pbx.example.com', B24_CLIENT_ID: 'local.abc123', B24_CLIENT_SECRET: '' });
    const warnings = capture.text().split('\n').filter((l) => l.includes('"level":40')).map((l) => JSON.parse(l) as { code: string; msg: string });
    expect(warnings.map((w) => w.code)).toEqual(['PUBLIC_URL_NOT_HTTPS', 'B24_APP_CREDENTIALS_UNSET']);
    expect(warnings[0]?.msg).toContain('http://pbx.example.com');
    expect(warnings[1]?.msg).toMatch(/^B24_CLIENT_SECRET is not set/);
    for (const w of warnings) expect(w.msg).not.toContain('local.abc123');
  });

  it('a production configuration starts without a warning', async () => {
    const { capture } = await server({ PUBLIC_URL: 'https://pbx.example.com', B24_CLIENT_ID: 'local.abc123', B24_CLIENT_SECRET: 'app-secret-xyz' });
    expect(capture.text()).toContain('"msg":"listening"');
    expect(capture.text()).not.toContain('"level":40');
    expect(capture.text()).not.toContain('app-secret-xyz');
  });

  it('names both credentials when neither is set', () => {
    const config = testConfig('/nonexistent', 3000, { PUBLIC_URL: 'https://pbx.example.com', B24_CLIENT_ID: '', B24_CLIENT_SECRET: '' });
    expect(startWarnings(config).map((w) => w.message)).toEqual([expect.stringMatching(/^B24_CLIENT_ID and B24_CLIENT_SECRET are not set/)]);
  });
});
