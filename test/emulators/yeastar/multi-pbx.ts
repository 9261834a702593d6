import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { sendJson } from './envelope.js';
import { YeastarEmulatorServer } from './server.js';
import type { EmulatorOptions } from './types.js';

/**
 * Many independent PBXs in one process, each under its own path prefix `/pbx/<n>` (n = 0 … count-1): PBX n has its own
 * tokens, extensions, sockets, events, CDR and recordings, and its own control API at `/pbx/<n>/_emulator/…`.
 * A portal's PBX base URL is then `http://127.0.0.1:<port>/pbx/<n>`, as a real PBX behind a reverse proxy would be.
 * Used by the many-tenants benchmark (200 portals, 200 PBX links) without 200 emulator processes.
 */
export const MULTI_PREFIX = '/pbx/';

export class MultiPbxServer {
  private constructor(
    readonly instances: YeastarEmulatorServer[],
    private readonly server: Server,
  ) {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.route(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const target = this.resolve(req);
      if (target) target.upgrade(req, socket, head);
      else socket.destroy();
    });
  }

  static async start(options: Partial<EmulatorOptions>, count: number, port = 0, host = '127.0.0.1'): Promise<{ multi: MultiPbxServer; url: string }> {
    if (!Number.isInteger(count) || count < 1) throw new Error(`instances must be a positive integer, got ${count}`);
    const baseSn = options.sn ?? '3633D2199067';
    const instances = await Promise.all(Array.from({ length: count }, (_, n) =>
      // Each PBX its own serial number: the product must never mix two PBXs' events.
      YeastarEmulatorServer.embedded({ ...options, sn: `${baseSn.slice(0, 8)}${String(n).padStart(4, '0')}` })));
    const server = createServer();
    const multi = new MultiPbxServer(instances, server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const { port: actual } = server.address() as AddressInfo;
    return { multi, url: `http://${host}:${actual}` };
  }

  async close(): Promise<void> {
    await Promise.all(this.instances.map((i) => i.close()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Finds the PBX of `/pbx/<n>/…` and rewrites `req.url` to the part below the prefix. */
  private resolve(req: IncomingMessage): YeastarEmulatorServer | undefined {
    const raw = req.url ?? '/';
    if (!raw.startsWith(MULTI_PREFIX)) return undefined;
    const rest = raw.slice(MULTI_PREFIX.length);
    const slash = rest.search(/[/?]/);
    const index = slash < 0 ? rest : rest.slice(0, slash);
    if (!/^\d+$/.test(index)) return undefined;
    const target = this.instances[Number(index)];
    if (!target) return undefined;
    const below = slash < 0 ? '/' : rest.slice(slash);
    req.url = below.startsWith('/') ? below : `/${below}`;
    return target;
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const target = this.resolve(req);
    if (!target) {
      sendJson(res, { error: `no PBX at ${req.url ?? '/'}; use ${MULTI_PREFIX}<0…${this.instances.length - 1}>/` }, 404);
      return;
    }
    target.handle(req, res);
  }
}
