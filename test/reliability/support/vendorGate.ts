// A small HTTP proxy in front of a vendor simulator, for faults the simulator cannot make by
// itself: revoking an API key mid-run (only the keys it is told to accept pass; others get the
// vendor's 401) and calls slower than the adapter's timeout (every n-th call is held, then still
// forwarded, as a vendor that finally processes a call its client gave up on). Loopback only.
import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface VendorGate {
  /** Origin to point the *_API_URL setting at. */
  url: string;
  /** Only these API keys (HTTP Basic user names) pass; undefined lets every key through. */
  acceptKeys(keys: string[] | undefined): void;
  /** Holds every `every`-th vendor call for `holdMs` before forwarding it (at most `limit` calls, if given); undefined stops holding. */
  holdCalls(hold: { every: number; holdMs: number; limit?: number } | undefined): void;
  /**
   * Holds every vendor call whose path matches until resumeCalls. A held call whose client gave up
   * meanwhile (its timeout) is then dropped, never forwarded: to the client it was lost on the way.
   */
  pauseCalls(path: RegExp): void;
  /** Stops pausing and lets the held calls go on; answers how many were held, and how many of those dropped. */
  resumeCalls(): { held: number; dropped: number };
  counters: { calls: number; refused: number; held: number; forwardedLate: number };
  stop(): Promise<void>;
}

const VENDOR_PATH = /^\/api\//;

function apiKeyOf(request: IncomingMessage): string | undefined {
  const match = /^Basic\s+(.+)$/i.exec(request.headers.authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  return decoded.split(':')[0] || undefined;
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

export async function startVendorGate(target: string): Promise<VendorGate> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let accepted: Set<string> | undefined;
  let hold: { every: number; holdMs: number; limit?: number } | undefined;
  let heldSinceSet = 0;
  const counters = { calls: 0, refused: 0, held: 0, forwardedLate: 0 };
  let pausedPath: RegExp | undefined;
  /** Each held call: forwards it, or drops it (answering false) when its client gave up. */
  let pausedCalls: (() => boolean)[] = [];

  const forward = (request: IncomingMessage, body: Buffer, response: ServerResponse | undefined) => {
    const outgoing = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: request.method,
        path: request.url,
        headers: { ...request.headers, host: upstream.host },
        agent,
      },
      (answer) => {
        if (!response || response.destroyed) return void answer.resume();
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    // The simulator dropped the connection (an injected reset): drop the client's too.
    outgoing.on('error', () => response?.socket?.destroy());
    outgoing.end(body);
  };

  const server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request);
      const vendorCall = VENDOR_PATH.test(request.url ?? '');
      if (!vendorCall) return forward(request, body, response);
      counters.calls += 1;
      if (accepted && !accepted.has(apiKeyOf(request) ?? '')) {
        counters.refused += 1;
        response.writeHead(401, { 'content-type': 'application/json; charset=utf-8' });
        return void response.end(JSON.stringify({ Code: 100, Message: 'Invalid API Key' }));
      }
      if (pausedPath?.test(request.url ?? '')) {
        pausedCalls.push(() => {
          const gaveUp = response.destroyed || request.socket.destroyed;
          if (gaveUp) response.destroy();
          else forward(request, body, response);
          return !gaveUp;
        });
        return;
      }
      if (hold && counters.calls % hold.every === 0 && (hold.limit === undefined || heldSinceSet < hold.limit)) {
        counters.held += 1;
        heldSinceSet += 1;
        const timer = setTimeout(() => {
          timers.delete(timer);
          counters.forwardedLate += 1;
          // The client has given up by now; the vendor still processes the call.
          forward(request, body, response.destroyed ? undefined : response);
        }, hold.holdMs);
        timers.add(timer);
        return;
      }
      forward(request, body, response);
    })().catch(() => response.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    counters,
    acceptKeys(keys) {
      accepted = keys ? new Set(keys) : undefined;
    },
    holdCalls(next) {
      hold = next;
      heldSinceSet = 0;
    },
    pauseCalls(path) {
      pausedPath = path;
    },
    resumeCalls() {
      pausedPath = undefined;
      const calls = pausedCalls;
      pausedCalls = [];
      const dropped = calls.filter((call) => !call()).length;
      return { held: calls.length, dropped };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        pausedCalls = [];
        for (const timer of timers) clearTimeout(timer);
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
