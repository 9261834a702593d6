import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';

/**
 * Hostile peers for the tenancy tests (issue 10): a proxy in front of an emulator that rewrites some answers the way
 * a hostile PBX or portal would, and a canary server that stands for "a host the product must never reach" (the
 * metadata service, this host's own services) and counts every connection made to it.
 */

export interface Canary {
  url: string;
  port: number;
  /** TCP connections accepted so far (a refused connection must never get this far). */
  connections(): number;
  /** What each request carried: method, path, headers and body (to prove no auth reached it). */
  requests: { method: string; path: string; headers: Record<string, unknown>; body: string }[];
  close(): Promise<void>;
}

/** The body every canary answer carries: if it shows up anywhere, the product fetched the canary. */
export const CANARY_BODY = 'CANARY-SECRET-169.254.169.254-do-not-serve';

export async function startCanary(): Promise<Canary> {
  let connections = 0;
  const requests: Canary['requests'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: { ...req.headers }, body: Buffer.concat(chunks).toString('utf8') });
      // Dressed as audio and as a REST answer, so only the product's own checks can refuse it.
      res.writeHead(200, { 'Content-Type': req.url?.includes('/rest/') ? 'application/json' : 'audio/x-wav' });
      res.end(req.url?.includes('/rest/') ? JSON.stringify({ result: CANARY_BODY }) : CANARY_BODY);
    });
  });
  server.on('connection', () => { connections += 1; });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connections: () => connections,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** How the proxy answers one request instead of the upstream; undefined: pass it through (maybe rewritten). */
export type ProxyOverride = (req: IncomingMessage, body: Buffer) => { status: number; headers: Record<string, string>; body: string } | undefined;

export interface ProxyRules {
  /** Answer without asking the upstream (e.g. a 307 to the canary). */
  override?: ProxyOverride;
  /** Rewrites a JSON answer of the upstream (e.g. the PBX's recording/download). */
  rewriteJson?: (path: string, json: unknown) => unknown;
  /** Replaces the Content-Type of the upstream's answer for these paths (e.g. a recording served as text/html). */
  contentType?: (path: string) => string | undefined;
}

export interface HostileProxy {
  url: string;
  /** The rules in force; change them between cases. */
  rules: ProxyRules;
  close(): Promise<void>;
}

/**
 * A reverse proxy to `upstream` (HTTP and WebSocket upgrades), applying `rules`. Everything else passes unchanged,
 * so the product talks to the real emulator through it.
 */
export async function startHostileProxy(upstream: string, rules: ProxyRules = {}): Promise<HostileProxy> {
  const target = new URL(upstream);
  const proxy: HostileProxy = { url: '', rules, close: async () => undefined };

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const path = req.url ?? '/';
    const headers = { ...req.headers, host: target.host };
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path, headers }, (answer) => {
      const pathname = new URL(path, upstream).pathname;
      const type = proxy.rules.contentType?.(pathname);
      const rewrite = proxy.rules.rewriteJson;
      const isJson = String(answer.headers['content-type'] ?? '').includes('json');
      if (rewrite && isJson) {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            json = undefined;
          }
          const text = json === undefined ? Buffer.concat(chunks).toString('utf8') : JSON.stringify(rewrite(pathname, json));
          const out = { ...answer.headers, 'content-length': String(Buffer.byteLength(text)) };
          delete out['transfer-encoding'];
          res.writeHead(answer.statusCode ?? 502, out);
          res.end(text);
        });
        return;
      }
      res.writeHead(answer.statusCode ?? 502, { ...answer.headers, ...(type ? { 'content-type': type } : {}) });
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    up.end(body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const own = proxy.rules.override?.(req, body);
      if (own) {
        res.writeHead(own.status, own.headers);
        res.end(own.body);
        return;
      }
      forward(req, res, body);
    });
  });

  // WebSocket (the PBX event link): the upgrade request is replayed to the upstream and the two sockets are joined.
  // Upgraded sockets leave the server's bookkeeping, so they are kept here to be closed with the proxy.
  const upgraded = new Set<net.Socket>();
  server.on('upgrade', (req: IncomingMessage, socket: net.Socket, head: Buffer) => {
    upgraded.add(socket);
    socket.on('close', () => upgraded.delete(socket));
    const up = net.connect(Number(target.port), target.hostname, () => {
      const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i] ?? '';
        lines.push(`${name}: ${name.toLowerCase() === 'host' ? target.host : req.rawHeaders[i + 1] ?? ''}`);
      }
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) up.write(head);
      socket.pipe(up).pipe(socket);
    });
    up.on('error', () => socket.destroy());
    up.on('close', () => socket.destroy());
    socket.on('error', () => up.destroy());
    socket.on('close', () => up.destroy());
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () => new Promise<void>((resolve) => {
    for (const socket of upgraded) socket.destroy();
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return proxy;
}
