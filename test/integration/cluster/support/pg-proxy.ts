import { connect, createServer, type Server, type Socket } from 'node:net';
import { listenOnFreeLoopbackPort } from './listen.js';

/**
 * One instance's road to PostgreSQL: a TCP proxy on loopback in front of the throwaway cluster, so the test can cut
 * that instance's database link alone (the network-cut case) while the other instances keep theirs.
 * cut(): every open connection is destroyed (both sides) and new ones are closed as soon as they are accepted, until
 * restore(). The product sees what a broken network shows it: connections that end and cannot be opened again.
 */
export interface PgProxy {
  readonly port: number;
  cut(): void;
  restore(): void;
  /** Connections accepted and forwarded so far (a proxy nobody used proves nothing). */
  readonly forwarded: number;
  close(): Promise<void>;
}

export async function startPgProxy(targetPort: number): Promise<PgProxy> {
  const open = new Set<Socket>();
  let refusing = false;
  let forwarded = 0;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    forwarded += 1;
    const upstream = connect(targetPort, '127.0.0.1');
    open.add(client);
    open.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const port = await listenOnFreeLoopbackPort(server);
  return {
    port,
    get forwarded() {
      return forwarded;
    },
    cut() {
      refusing = true;
      for (const socket of open) socket.destroy();
      open.clear();
    },
    restore() {
      refusing = false;
    },
    async close() {
      refusing = true;
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
