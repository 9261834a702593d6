import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenOnFreeLoopbackPort } from './listen.js';

/**
 * The shared front the instances sit behind (PUBLIC_URL): a tiny round-robin reverse proxy, as an operator would put
 * nginx or a load balancer before two instances. Each request goes to the next instance marked up; a refused
 * connection (a killed instance) or no answer within `answerTimeoutMs` (a stopped one) moves it to the next.
 * The test marks an instance down before it kills or stops it, as a health check would soon after.
 */
export interface Front {
  readonly url: string;
  setBackends(ports: readonly number[]): void;
  /** Requests each backend port answered (so a test can see that work really spread). */
  answeredBy(): ReadonlyMap<number, number>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function forward(port: number, req: IncomingMessage, body: Buffer, timeoutMs: number): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const out = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: { ...req.headers, connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => out.destroy(new Error('no answer in time')), timeoutMs);
    out.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    out.end(body);
  });
}

export async function startFront(answerTimeoutMs = 10_000): Promise<Front> {
  let backends: number[] = [];
  let next = 0;
  const answered = new Map<number, number>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const body = await readBody(req);
      const order = backends.map((_, i) => backends[(next + i) % backends.length]).filter((p): p is number => p !== undefined);
      next = (next + 1) % Math.max(1, backends.length);
      for (const port of order) {
        try {
          const answer = await forward(port, req, body, answerTimeoutMs);
          answered.set(port, (answered.get(port) ?? 0) + 1);
          const headers = { ...answer.headers };
          delete headers['transfer-encoding'];
          delete headers.connection;
          res.writeHead(answer.status, { ...headers, 'content-length': String(answer.body.length) });
          res.end(answer.body);
          return;
        } catch {
          // That instance is gone or frozen: the next one answers.
        }
      }
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('no instance answered');
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const port = await listenOnFreeLoopbackPort(server);
  return {
    url: `http://127.0.0.1:${port}`,
    setBackends(ports) {
      backends = [...ports];
    },
    answeredBy: () => answered,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
