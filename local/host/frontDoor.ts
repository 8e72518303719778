// The one HTTP endpoint before the host instances, as the platform's front end is before a
// scaled-out app: requests go round robin to ready instances and wait while none is (a recycled
// instance is starting again). It keeps the platform's HTTP limits: a 100 MB body, a 4 KB URL,
// and 230 s for a response to begin (the Azure Load Balancer idle timeout), see
// https://learn.microsoft.com/azure/azure-functions/functions-bindings-http-webhook-trigger#limits
// and https://learn.microsoft.com/azure/azure-functions/functions-scale#timeout.
// A caller whose instance dies mid-request gets an error, never a late answer. An idle client
// connection stays open as long as the platform's load balancer keeps one (4 minutes,
// https://learn.microsoft.com/azure/load-balancer/load-balancer-tcp-idle-timeout), not Node's 5 s:
// a client reusing a connection just as the server closes it gets no answer at all, and a POST is
// not retried (https://github.com/nodejs/undici/issues/3141); a loaded machine widens that window.
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeWhenDrained, listenOnLoopback } from './loopbackListener.js';
import type { InstancePool } from './instancePool.js';
import { NODE_MAX_HEADER_SIZE } from './requestLimits.js';

export const MAX_REQUEST_BODY_BYTES = 100 * 1024 * 1024;
export const MAX_URL_LENGTH = 4096;
export const RESPONSE_START_TIMEOUT_MS = 230_000;
/** How long an idle client connection stays open (the Azure Load Balancer's default idle timeout). */
export const IDLE_CONNECTION_TIMEOUT_MS = 240_000;
/** How long a request waits for an instance while none is ready (one is starting). */
const WAIT_FOR_INSTANCE_MS = 60_000;
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);
/** A request whose instance died this soon after it was sent is taken as never started there. */
const JUST_ARRIVED_MS = 1_000;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

export class FrontDoor {
  private readonly server: Server;
  // A connection per request: a refused one is then surely a request the instance never got
  // (safe to hand to another), where a kept-alive socket of a dead instance would be ambiguous.
  private readonly agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  private accepting = true;

  constructor(
    private readonly pool: InstancePool,
    private readonly log: (message: string) => void,
  ) {
    // Read headers as far as the instances do, so they answer an over-size request with the
    // platform's 431 problem rather than the front door resetting the connection.
    this.server = createServer({ maxHeaderSize: NODE_MAX_HEADER_SIZE }, (req, res) => {
      if (!this.accepting) {
        res.writeHead(503, { connection: 'close' }).end();
        return;
      }
      this.handle(req, res).catch((error: Error) => {
        this.log(`Front door: ${req.method} ${req.url} failed: ${error.message}`);
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
    });
    this.server.requestTimeout = 0;
    this.server.keepAliveTimeout = IDLE_CONNECTION_TIMEOUT_MS;
  }

  listen(port: number): Promise<number> {
    return listenOnLoopback(this.server, port);
  }

  /** Stops taking connections; requests in progress finish. */
  stopAccepting(): Promise<void> {
    this.accepting = false;
    return closeWhenDrained(this.server);
  }

  closeAllConnections(): void {
    this.server.closeAllConnections();
    this.agent.destroy();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    if (url.length > MAX_URL_LENGTH)
      return void answerProblem(
        res,
        414,
        'URI Too Long',
        `The request URL has ${url.length} characters; the limit is ${MAX_URL_LENGTH}. Send long values in a JSON body.`,
      );
    if (req.method === 'GET' && url.replace(/\/+$/, '').toLowerCase() === '/admin/host/instances') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.pool.info()));
      return;
    }
    if (Number(req.headers['content-length'] ?? 0) > MAX_REQUEST_BODY_BYTES) {
      answerProblem(res, 413, 'Content Too Large', `The request body is over the limit of ${MAX_REQUEST_BODY_BYTES} bytes.`, {
        connection: 'close',
      });
      req.destroy();
      return;
    }
    // Read whole, so a request can go to another instance when the first one refuses it.
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_REQUEST_BODY_BYTES) {
        answerProblem(res, 413, 'Content Too Large', `The request body is over the limit of ${MAX_REQUEST_BODY_BYTES} bytes.`, {
          connection: 'close',
        });
        req.destroy();
        return;
      }
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks);
    const deadline = Date.now() + WAIT_FOR_INSTANCE_MS;
    for (;;) {
      const port = await this.pool.pick(Math.max(0, deadline - Date.now()));
      if (port === undefined) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' }).end('No host instance is running.');
        return;
      }
      const outcome = await this.forward(req, res, body, port);
      if (outcome === 'refused') {
        // Not delivered: the instance is gone or restarting. Try another (or wait for one).
        this.pool.markUnreachable(port);
        continue;
      }
      return;
    }
  }

  /** Forwards one request; 'refused' when the instance never got it. */
  private forward(req: IncomingMessage, res: ServerResponse, body: Buffer, port: number): Promise<'done' | 'refused'> {
    return new Promise((resolve) => {
      const headers = { ...req.headers, 'content-length': String(body.length) };
      delete headers['transfer-encoding'];
      const upstream = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers, agent: this.agent });
      let answered = false;
      const startTimer = setTimeout(() => {
        if (answered) return;
        answered = true;
        upstream.destroy();
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' }).end('The function did not start its response within 230 s.');
        resolve('done');
      }, RESPONSE_START_TIMEOUT_MS);
      upstream.on('response', (response) => {
        if (answered) return response.resume();
        answered = true;
        clearTimeout(startTimer);
        const outHeaders: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined && !HOP_BY_HOP.has(name)) outHeaders[name] = value;
        }
        res.writeHead(response.statusCode ?? 502, response.statusMessage, outHeaders);
        response.pipe(res);
        response.on('error', () => res.destroy());
        // The instance died while streaming: the caller must see a broken response, not a short one.
        response.on('aborted', () => res.destroy());
        res.on('close', () => {
          if (!res.writableFinished) upstream.destroy();
          resolve('done');
        });
      });
      upstream.on('error', (error: NodeJS.ErrnoException) => {
        if (answered) return res.destroy();
        answered = true;
        clearTimeout(startTimer);
        if (error.code === 'ECONNREFUSED') return resolve('refused');
        // The instance died as the request reached it: an idempotent one goes to another instance
        // (as nginx's proxy_next_upstream does by default). One it had been running for a while,
        // or any other, gets an error: never a late answer from elsewhere.
        if (IDEMPOTENT.has(req.method ?? 'GET') && Date.now() - sentAt < JUST_ARRIVED_MS) return resolve('refused');
        // Delivered, then the instance went away: an error for the caller, as from the platform.
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' }).end('The host instance stopped while handling the request.');
        resolve('done');
      });
      // The caller gave up: so does the instance's request.
      res.on('close', () => {
        if (!answered) {
          answered = true;
          clearTimeout(startTimer);
          upstream.destroy();
          resolve('done');
        }
      });
      const sentAt = Date.now();
      upstream.end(body);
    });
  }
}

/** The front door's own refusals, as the RFC 9457 problem details the app answers with everywhere else. */
function answerProblem(res: ServerResponse, status: number, title: string, detail: string, headers: Record<string, string> = {}): void {
  res
    .writeHead(status, { ...headers, 'content-type': 'application/problem+json' })
    .end(JSON.stringify({ type: 'about:blank', title, status, detail }));
}
