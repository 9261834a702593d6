import type { Server } from 'node:net';

/** Starts `server` on a free loopback port (an HTTP server is a net.Server too) and returns that port. */
export async function listenOnFreeLoopbackPort(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}
