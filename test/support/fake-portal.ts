import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A portal of the attacker's own: a tiny HTTP server that answers every Bitrix24 REST method as a portal happy to
 * help would — `profile` says ADMIN for ANY bearer, `app.info` names whatever app is asked about, batches answer
 * both, anything else `{result: true}` — and keeps every request it got (method, URL, body) so a test can show that
 * the product never called it, or at least never with a secret.
 */
export interface FakePortal {
  /** host:port, what an install names as DOMAIN. */
  domain: string;
  clientEndpoint: string;
  requests: { method: string; url: string; body: string }[];
  close(): Promise<void>;
}

const ADMIN_PROFILE = { ID: '1', ADMIN: true, NAME: 'Mallory', LAST_NAME: 'Fake', PERSONAL_GENDER: '', TIME_ZONE: '' };

function answerFor(path: string, body: string): unknown {
  const method = (path.split('/').pop() ?? '').replace(/\.json$/, '').toLowerCase();
  if (method === 'profile') return { result: ADMIN_PROFILE };
  if (method === 'app.info') return { result: { ID: 1, CODE: new URLSearchParams(body).get('client_id') ?? 'local.anything', VERSION: 1, STATUS: 'L', INSTALLED: true } };
  if (method === 'batch') return { result: { result: { profile: ADMIN_PROFILE, app: { ID: 1, CODE: 'local.anything', INSTALLED: true } }, result_error: [] } };
  return { result: true };
}

export async function startFakePortal(): Promise<FakePortal> {
  const requests: FakePortal['requests'] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? '', url: req.url ?? '', body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answerFor(new URL(req.url ?? '/', 'http://fake').pathname, body)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const domain = `127.0.0.1:${port}`;
  return {
    domain,
    clientEndpoint: `http://${domain}/rest/`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
