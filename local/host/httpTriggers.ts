// HTTP triggers: route templates as the runtime reads them ({param}, {param?}, {param:constraint},
// {*rest}), an HttpRequest per request, and whatever the handler returns written back.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeWhenDrained, listenOnLoopback } from './loopbackListener.js';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Cookie, HttpResponse } from '@azure/functions';
import type { FunctionsLibrary, RegisteredFunction } from './coreApi.js';
import type { InFlight, Invoker } from './invoke.js';
import type { HostLogger } from './logger.js';
import { MAX_REQUEST_HEADER_BYTES, NODE_MAX_HEADER_SIZE, redactQuery, requestHeaderBytes } from './requestLimits.js';

// ---------------------------------------------------------------------------------------------
// Route templates

interface RouteSegment {
  /** Ranks segments for precedence: literal < mixed < constrained < plain < optional < catch-all. */
  rank: number;
  pattern: RegExp;
  params: { name: string; constraints: string[] }[];
  optional: boolean;
  catchAll?: string;
}

export interface CompiledRoute {
  template: string;
  segments: RouteSegment[];
  /** Upper-case methods; empty = any method. */
  methods: string[];
  fn: RegisteredFunction;
  order: number;
}

export function compileRoute(template: string, methods: string[], fn: RegisteredFunction, order = 0): CompiledRoute {
  const parts = template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .filter((part) => part !== '');
  const segments = parts.map((part, index): RouteSegment => {
    const whole = /^\{(\*{1,2})?([A-Za-z_][\w]*)(\?)?((?::[^}]*)?)\}$/.exec(part);
    if (whole) {
      const [, star, name, optional, constraintText] = whole;
      if (star) {
        if (index !== parts.length - 1) throw new Error(`Catch-all {*${name}} must be the last segment of "${template}".`);
        return { rank: 6, pattern: /^(.*)$/s, params: [{ name: name!, constraints: [] }], optional: true, catchAll: name };
      }
      const constraints = splitConstraints(constraintText ?? '');
      return {
        rank: optional ? 5 : constraints.length > 0 ? 3 : 4,
        pattern: /^(.+)$/s,
        params: [{ name: name!, constraints }],
        optional: Boolean(optional),
      };
    }
    // Literal text, possibly mixed with parameters ("file.{ext}").
    const params: RouteSegment['params'] = [];
    let source = '';
    let last = 0;
    for (const match of part.matchAll(/\{([A-Za-z_][\w]*)((?::[^}]*)?)\}/g)) {
      source += escapeRegExp(part.slice(last, match.index));
      source += '(.+?)';
      params.push({ name: match[1]!, constraints: splitConstraints(match[2] ?? '') });
      last = match.index! + match[0].length;
    }
    source += escapeRegExp(part.slice(last));
    return { rank: params.length > 0 ? 2 : 1, pattern: new RegExp(`^${source}$`, 'is'), params, optional: false };
  });
  return { template, segments, methods: methods.map((m) => m.toUpperCase()), fn, order };
}

/** Route values for a request path (already without the route prefix), or undefined. */
export function matchRoute(route: CompiledRoute, pathSegments: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < route.segments.length; i++) {
    const segment = route.segments[i]!;
    if (segment.catchAll !== undefined) {
      const rest = pathSegments.slice(i).map(safeDecode);
      if (rest.some((value) => value === undefined)) return undefined;
      if (rest.length > 0) params[segment.catchAll] = rest.join('/');
      return params;
    }
    const raw = pathSegments[i];
    if (raw === undefined) {
      if (segment.optional) continue;
      return undefined;
    }
    const match = segment.pattern.exec(raw);
    if (!match) return undefined;
    for (let p = 0; p < segment.params.length; p++) {
      const value = safeDecode(match[p + 1]!);
      const param = segment.params[p]!;
      if (value === undefined || !param.constraints.every((c) => satisfies(c, value))) return undefined;
      params[param.name] = value;
    }
  }
  return pathSegments.length > route.segments.length ? undefined : params;
}

/** Orders routes so that literal segments win over parameters, as ASP.NET routing does. */
export function compareRoutes(a: CompiledRoute, b: CompiledRoute): number {
  const length = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < length; i++) {
    const rankA = a.segments[i]?.rank ?? 0;
    const rankB = b.segments[i]?.rank ?? 0;
    if (rankA !== rankB) return rankA - rankB;
  }
  return a.order - b.order;
}

export type RouteLookup =
  | { kind: 'found'; route: CompiledRoute; params: Record<string, string> }
  | { kind: 'methodNotAllowed'; allowed: string[] }
  | { kind: 'notFound' };

export function findRoute(routes: CompiledRoute[], method: string, pathSegments: string[]): RouteLookup {
  const allowed = new Set<string>();
  for (const route of routes) {
    const params = matchRoute(route, pathSegments);
    if (!params) continue;
    if (route.methods.length === 0 || route.methods.includes(method.toUpperCase())) return { kind: 'found', route, params };
    route.methods.forEach((m) => allowed.add(m));
  }
  return allowed.size > 0 ? { kind: 'methodNotAllowed', allowed: [...allowed] } : { kind: 'notFound' };
}

function splitConstraints(text: string): string[] {
  // ":int:min(1)" → ["int", "min(1)"]; colons inside parentheses (regex) stay.
  const result: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === ':' && depth === 0) {
      if (current) result.push(current);
      current = '';
      continue;
    }
    if (char === '(') depth++;
    if (char === ')') depth--;
    current += char;
  }
  if (current) result.push(current);
  return result;
}

function satisfies(constraint: string, value: string): boolean {
  const match = /^(\w+)(?:\((.*)\))?$/s.exec(constraint);
  if (!match) return true;
  const [, name, arg] = match;
  const args = (arg ?? '').split(',').map((x) => x.trim());
  switch (name!.toLowerCase()) {
    case 'int':
    case 'long':
      return /^-?\d+$/.test(value);
    case 'bool':
      return /^(true|false)$/i.test(value);
    case 'guid':
      return /^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i.test(value);
    case 'alpha':
      return /^[a-z]+$/i.test(value);
    case 'double':
    case 'float':
    case 'decimal':
      return /^-?(\d+\.?\d*|\.\d+)$/.test(value);
    case 'datetime':
      return !Number.isNaN(Date.parse(value));
    case 'min':
      return /^-?\d+$/.test(value) && Number(value) >= Number(args[0]);
    case 'max':
      return /^-?\d+$/.test(value) && Number(value) <= Number(args[0]);
    case 'range':
      return /^-?\d+$/.test(value) && Number(value) >= Number(args[0]) && Number(value) <= Number(args[1]);
    case 'minlength':
      return value.length >= Number(args[0]);
    case 'maxlength':
      return value.length <= Number(args[0]);
    case 'length':
      return args.length > 1 ? value.length >= Number(args[0]) && value.length <= Number(args[1]) : value.length === Number(args[0]);
    case 'regex':
      return new RegExp(arg ?? '', 'i').test(value);
    default:
      // Unknown constraints only restrict the value to one segment.
      return true;
  }
}

function safeDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------------------------
// Server

export interface HttpServerOptions {
  lib: FunctionsLibrary;
  invoker: Invoker;
  inFlight: InFlight;
  logger: HostLogger;
  routePrefix: string;
  customHeaders: Record<string, string>;
  functions: RegisteredFunction[];
  /** Runs a non-HTTP function on demand (POST /admin/functions/<name>); false if there is none. */
  invokeByAdmin: (name: string, input: unknown) => boolean;
}

export class HttpTriggerServer {
  readonly routes: CompiledRoute[];
  private readonly server: Server;
  private accepting = true;

  constructor(private readonly options: HttpServerOptions) {
    this.routes = options.functions
      .map((fn, order) => {
        const trigger = Object.values(fn.metadata.bindings).find((b) => b.type.toLowerCase() === 'httptrigger')!;
        const template = typeof trigger.route === 'string' && trigger.route !== '' ? trigger.route : fn.metadata.name;
        const methods = Array.isArray(trigger.methods) ? (trigger.methods as string[]) : [];
        return compileRoute(template, methods, fn, order);
      })
      .sort(compareRoutes);
    this.server = createServer({ maxHeaderSize: NODE_MAX_HEADER_SIZE }, (req, res) => {
      if (!this.accepting) {
        res.writeHead(503, { connection: 'close' }).end();
        return;
      }
      void options.inFlight.track(this.handle(req, res));
    });
    // Long exports can stream large responses; the runtime does not cut requests at 5 minutes.
    this.server.requestTimeout = 0;
  }

  listen(port: number): Promise<number> {
    return listenOnLoopback(this.server, port);
  }

  /** Stops accepting connections; requests already in progress finish. */
  stopAccepting(): Promise<void> {
    this.accepting = false;
    return closeWhenDrained(this.server);
  }

  closeAllConnections(): void {
    this.server.closeAllConnections();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    try {
      await this.route(req, res, method, url);
    } catch (error) {
      this.options.logger.host('error', `HTTP ${method} ${url.pathname} failed: ${(error as Error).stack ?? String(error)}`);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Internal Server Error');
      } else {
        res.destroy();
      }
    } finally {
      if (!res.writableFinished) await new Promise((resolve) => res.once('close', resolve));
      this.options.logger.log({
        level: 'information',
        category: 'http',
        message: `${method} ${url.pathname}${redactQuery(url.search)} ${res.statusCode} ${Date.now() - started}ms`,
      });
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse, method: string, url: URL): Promise<void> {
    const headerBytes = requestHeaderBytes(req);
    if (headerBytes > MAX_REQUEST_HEADER_BYTES) {
      const detail = `The request line and headers are ${headerBytes} bytes; the limit is ${MAX_REQUEST_HEADER_BYTES} bytes.`;
      const body = JSON.stringify({ type: 'about:blank', title: 'Request header fields too large', status: 431, detail });
      return this.reply(res, 431, { 'content-type': 'application/problem+json', connection: 'close' }, body);
    }
    const path = url.pathname.split('/').filter((part) => part !== '');
    if (path[0]?.toLowerCase() === 'admin') return this.admin(req, res, method, path);
    const prefix = this.options.routePrefix ? this.options.routePrefix.split('/') : [];
    const hasPrefix = prefix.every((part, i) => path[i]?.toLowerCase() === part.toLowerCase());
    if (!hasPrefix) return this.reply(res, 404);
    const lookup = findRoute(this.routes, method, path.slice(prefix.length));
    if (lookup.kind === 'notFound') return this.reply(res, 404);
    if (lookup.kind === 'methodNotAllowed') return this.reply(res, 405, { allow: lookup.allowed.join(', ') });

    const { lib, invoker } = this.options;
    const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const request = new lib.HttpRequest({
      method,
      url: url.href,
      headers,
      params: lookup.params,
      body: body && body.length > 0 ? { bytes: body } : undefined,
    });
    let result: unknown;
    try {
      result = await invoker.invoke(lookup.route.fn, request, {
        reason: `This function was programmatically called via the host APIs.`,
      });
    } catch {
      // The invoker logged the error; callers get a generic 500, as from the runtime.
      return this.reply(res, 500, { 'content-type': 'text/plain; charset=utf-8' }, 'Internal Server Error');
    }
    await this.writeResult(res, result);
  }

  private async writeResult(res: ServerResponse, result: unknown): Promise<void> {
    if (result === undefined || result === null) return this.reply(res, 200);
    if (typeof result !== 'object') {
      throw new Error('The HTTP response must be an object with optional properties "body", "status", "headers", and "cookies".');
    }
    const response = (isResponseLike(result) ? result : new this.options.lib.HttpResponse(result)) as HttpResponse;
    res.statusCode = response.status;
    for (const [name, value] of response.headers) {
      if (name.toLowerCase() !== 'set-cookie') res.setHeader(name, value);
    }
    const cookies = [...response.headers.getSetCookie(), ...(response.cookies ?? []).map(serializeCookie)];
    if (cookies.length > 0) res.setHeader('set-cookie', cookies);
    this.addCustomHeaders(res);
    if (!response.body) {
      res.end();
      return;
    }
    await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), res);
  }

  private async admin(req: IncomingMessage, res: ServerResponse, method: string, path: string[]): Promise<void> {
    // The runtime's admin API, the parts useful locally: host status and running a
    // non-HTTP function on demand (body {"input": "..."}).
    if (method === 'GET' && path.length === 3 && path[1] === 'host' && path[2] === 'status') {
      return this.reply(res, 200, { 'content-type': 'application/json' }, JSON.stringify({ state: 'Running' }));
    }
    if (method === 'POST' && path.length === 3 && path[1] === 'functions') {
      const text = (await readBody(req)).toString('utf8');
      let input: unknown = undefined;
      if (text.trim() !== '') {
        try {
          input = (JSON.parse(text) as { input?: unknown }).input;
        } catch {
          return this.reply(res, 400, { 'content-type': 'text/plain' }, 'Body must be JSON: {"input": "..."}');
        }
      }
      return this.reply(res, this.options.invokeByAdmin(decodeURIComponent(path[2]!), input) ? 202 : 404);
    }
    return this.reply(res, 404);
  }

  private reply(res: ServerResponse, status: number, headers: Record<string, string> = {}, body?: string): void {
    res.statusCode = status;
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    this.addCustomHeaders(res);
    res.end(body);
  }

  private addCustomHeaders(res: ServerResponse): void {
    for (const [name, value] of Object.entries(this.options.customHeaders)) {
      if (!res.hasHeader(name)) res.setHeader(name, value);
    }
  }
}

function isResponseLike(value: object): boolean {
  // An HttpResponse (or fetch Response) from any copy of the library.
  const candidate = value as { headers?: unknown; status?: unknown; arrayBuffer?: unknown };
  return candidate.headers instanceof Headers && typeof candidate.status === 'number' && typeof candidate.arrayBuffer === 'function';
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function serializeCookie(cookie: Cookie): string {
  const parts = [`${cookie.name}=${cookie.value}`];
  if (cookie.domain) parts.push(`Domain=${cookie.domain}`);
  if (cookie.path) parts.push(`Path=${cookie.path}`);
  if (cookie.expires !== undefined) parts.push(`Expires=${new Date(cookie.expires).toUTCString()}`);
  if (cookie.maxAge !== undefined) parts.push(`Max-Age=${cookie.maxAge}`);
  if (cookie.secure) parts.push('Secure');
  if (cookie.httpOnly) parts.push('HttpOnly');
  if (cookie.sameSite) parts.push(`SameSite=${cookie.sameSite}`);
  return parts.join('; ');
}
