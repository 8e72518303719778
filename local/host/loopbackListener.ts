// Listening and draining as both of the local host's HTTP servers (the front door and each
// instance's trigger server) do: on 127.0.0.1 only, and a stop that lets requests in progress finish.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on 127.0.0.1 (port 0 takes a free one) and resolves with the port listened on. */
export function listenOnLoopback(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Takes no new connections and drops idle ones; resolves once the requests in progress have finished. */
export function closeWhenDrained(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  return closed;
}
