// A small in-memory Key Vault *secrets* emulator over HTTPS. Key Vault has no emulator on npm, and
// the code must talk to it through the real SecretClient, so this speaks the subset of the REST
// protocol that SecretClient uses: challenge authentication, set/get/list/versions/update,
// soft delete, get deleted, purge, recover. Shapes and error codes follow the real service.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface KeyVaultEmulatorOptions {
  certPath: string;
  keyPath: string;
  /** 0 or absent: a free port chosen by the system. */
  port?: number;
  /** The only bearer token accepted. */
  token: string;
  /** Receives one line per request: method, path, status. Never bodies, so never values. */
  log?: (line: string) => void;
}

export interface KeyVaultEmulator {
  /** Vault URL for SecretClient, e.g. https://127.0.0.1:8443 (no trailing slash). */
  url: string;
  port: number;
  stop(): Promise<void>;
  /** false: every request is answered 503, as during an outage. */
  setAvailable(available: boolean): void;
}

const NAME_PATTERN = /^[0-9a-zA-Z-]{1,127}$/;
// The real service caps values at 25k characters; bodies beyond this are refused unread.
const MAX_VALUE_LENGTH = 25 * 1024;
const MAX_BODY_BYTES = 256 * 1024;
const MAX_PAGE_SIZE = 25;
const RECOVERABLE_DAYS = 90;
const RECOVERY_LEVEL = 'Recoverable+Purgeable';
// The SDK reads the resource from this challenge; the authorization URI's path is the tenant.
const CHALLENGE = 'Bearer authorization="https://login.microsoftonline.com/common", resource="https://vault.azure.net"';

interface Version {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled: boolean;
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
}

interface SecretEntry {
  /** Oldest first; the last one is the current version. */
  versions: Version[];
}

interface DeletedEntry extends SecretEntry {
  deletedDate: number;
  scheduledPurgeDate: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export async function startKeyVaultEmulator(options: KeyVaultEmulatorOptions): Promise<KeyVaultEmulator> {
  const secrets = new Map<string, SecretEntry>();
  const deleted = new Map<string, DeletedEntry>();
  const expectedToken = Buffer.from(options.token, 'utf8');
  const log = options.log ?? (() => {});
  let available = true;
  let baseUrl = '';

  const server: Server = createServer({ cert: readFileSync(options.certPath), key: readFileSync(options.keyPath) });

  const attributesOf = (v: Version) => ({
    enabled: v.enabled,
    ...(v.nbf !== undefined ? { nbf: v.nbf } : {}),
    ...(v.exp !== undefined ? { exp: v.exp } : {}),
    created: v.created,
    updated: v.updated,
    recoveryLevel: RECOVERY_LEVEL,
    recoverableDays: RECOVERABLE_DAYS,
  });

  const metadataOf = (v: Version) => ({
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
    ...(v.tags !== undefined ? { tags: v.tags } : {}),
  });

  const secretBundle = (name: string, v: Version) => ({
    value: v.value,
    ...metadataOf(v),
    id: `${baseUrl}/secrets/${name}/${v.version}`,
    attributes: attributesOf(v),
  });

  // The real service leaves the value out of deleted-secret answers.
  const deletedBundle = (name: string, entry: DeletedEntry) => {
    const current = entry.versions[entry.versions.length - 1]!;
    return {
      recoveryId: `${baseUrl}/deletedsecrets/${name}`,
      deletedDate: entry.deletedDate,
      scheduledPurgeDate: entry.scheduledPurgeDate,
      ...metadataOf(current),
      id: `${baseUrl}/secrets/${name}/${current.version}`,
      attributes: attributesOf(current),
    };
  };

  const notFound = (name: string, version?: string): HttpError =>
    new HttpError(
      404,
      'SecretNotFound',
      version
        ? `A secret with (name/id) ${name}/${version} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`
        : `A secret with (name/id) ${name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
    );

  const checkName = (name: string): void => {
    if (!NAME_PATTERN.test(name)) {
      throw new HttpError(
        400,
        'BadParameter',
        'The request URI contains an invalid name: the name must be 1-127 characters of 0-9, a-z, A-Z and -.',
      );
    }
  };

  const findVersion = (name: string, version: string | undefined): Version => {
    const entry = secrets.get(name);
    if (!entry) throw notFound(name, version);
    if (!version) return entry.versions[entry.versions.length - 1]!;
    const found = entry.versions.find((v) => v.version === version);
    if (!found) throw notFound(name, version);
    return found;
  };

  /** One page of `items`, with a nextLink carrying the offset (the real service uses an opaque $skiptoken). */
  const page = <T>(items: T[], url: URL, path: string) => {
    const rawMax = url.searchParams.get('maxresults');
    let max = MAX_PAGE_SIZE;
    if (rawMax !== null) {
      max = Number(rawMax);
      if (!Number.isInteger(max) || max < 1 || max > MAX_PAGE_SIZE) {
        throw new HttpError(400, 'BadParameter', `The value for maxresults must be an integer between 1 and ${MAX_PAGE_SIZE}.`);
      }
    }
    const skipToken = url.searchParams.get('$skiptoken');
    const start = skipToken === null ? 0 : Number(Buffer.from(skipToken, 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw new HttpError(400, 'BadParameter', 'The $skiptoken is invalid.');
    const slice = items.slice(start, start + max);
    let nextLink: string | null = null;
    if (start + max < items.length) {
      const next = new URL(`${baseUrl}${path}`);
      next.searchParams.set('api-version', url.searchParams.get('api-version') ?? '');
      next.searchParams.set('$skiptoken', Buffer.from(String(start + max), 'utf8').toString('base64url'));
      if (rawMax !== null) next.searchParams.set('maxresults', String(max));
      nextLink = next.toString();
    }
    return { value: slice, nextLink };
  };

  const readJson = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Reads to the end even when too large: leaving the loop early would destroy the socket
    // before the 413 could be sent.
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    }
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'RequestEntityTooLarge', 'The request body is too large.');
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
    } catch {
      throw new HttpError(400, 'BadParameter', 'The request body is not valid JSON.');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new HttpError(400, 'BadParameter', 'The request body must be a JSON object.');
    }
    return parsed as Record<string, unknown>;
  };

  /** Applies contentType, tags and attributes (enabled, nbf, exp) from a request body. */
  const applyProperties = (target: Version, body: Record<string, unknown>): void => {
    if (body.contentType !== undefined) {
      if (typeof body.contentType !== 'string') throw new HttpError(400, 'BadParameter', 'contentType must be a string.');
      target.contentType = body.contentType;
    }
    if (body.tags !== undefined && body.tags !== null) {
      if (typeof body.tags !== 'object' || Array.isArray(body.tags)) throw new HttpError(400, 'BadParameter', 'tags must be an object.');
      const tags: Record<string, string> = {};
      for (const [k, v] of Object.entries(body.tags as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new HttpError(400, 'BadParameter', 'Tag values must be strings.');
        tags[k] = v;
      }
      target.tags = tags;
    }
    const attributes = body.attributes;
    if (attributes !== undefined && attributes !== null) {
      if (typeof attributes !== 'object' || Array.isArray(attributes))
        throw new HttpError(400, 'BadParameter', 'attributes must be an object.');
      const a = attributes as Record<string, unknown>;
      if (a.enabled !== undefined) {
        if (typeof a.enabled !== 'boolean') throw new HttpError(400, 'BadParameter', 'attributes.enabled must be a boolean.');
        target.enabled = a.enabled;
      }
      for (const key of ['nbf', 'exp'] as const) {
        if (a[key] !== undefined) {
          if (typeof a[key] !== 'number') throw new HttpError(400, 'BadParameter', `attributes.${key} must be a number.`);
          target[key] = a[key];
        }
      }
    }
  };

  const handle = async (req: IncomingMessage, url: URL): Promise<{ status: number; body?: unknown }> => {
    const method = req.method ?? 'GET';
    // Segments after the leading slash; a trailing slash (the SDK's "latest version") yields ''.
    const parts = url.pathname
      .split('/')
      .slice(1)
      .map((p) => {
        try {
          return decodeURIComponent(p);
        } catch {
          throw new HttpError(400, 'BadParameter', 'The request URI is not valid.');
        }
      });
    const [collection, name, third] = parts;

    if (!url.searchParams.get('api-version')) {
      throw new HttpError(400, 'BadParameter', 'The api-version query parameter is required.');
    }

    if (collection === 'secrets') {
      if (parts.length === 1 || (parts.length === 2 && name === '')) {
        if (method !== 'GET') throw methodNotAllowed();
        const items = [...secrets.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([n, entry]) => {
            const current = entry.versions[entry.versions.length - 1]!;
            return { id: `${baseUrl}/secrets/${n}`, attributes: attributesOf(current), ...metadataOf(current) };
          });
        return { status: 200, body: page(items, url, '/secrets') };
      }
      checkName(name!);
      if (parts.length === 2 && method === 'PUT') {
        const body = await readJson(req);
        if (typeof body.value !== 'string') throw new HttpError(400, 'BadParameter', 'The request body must contain a string value.');
        if (body.value.length > MAX_VALUE_LENGTH)
          throw new HttpError(400, 'BadParameter', `The secret value exceeds ${MAX_VALUE_LENGTH} characters.`);
        if (deleted.has(name!)) {
          throw new HttpError(
            409,
            'Conflict',
            `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
          );
        }
        const now = nowSeconds();
        const version: Version = { version: randomUUID().replace(/-/g, ''), value: body.value, enabled: true, created: now, updated: now };
        applyProperties(version, body);
        const entry = secrets.get(name!) ?? { versions: [] };
        entry.versions.push(version);
        secrets.set(name!, entry);
        return { status: 200, body: secretBundle(name!, version) };
      }
      if (parts.length === 2 && method === 'DELETE') {
        const entry = secrets.get(name!);
        if (!entry) throw notFound(name!);
        secrets.delete(name!);
        const now = nowSeconds();
        const gone: DeletedEntry = { ...entry, deletedDate: now, scheduledPurgeDate: now + RECOVERABLE_DAYS * 86_400 };
        deleted.set(name!, gone);
        return { status: 200, body: deletedBundle(name!, gone) };
      }
      if (parts.length === 3 && third === 'versions') {
        if (method !== 'GET') throw methodNotAllowed();
        const entry = secrets.get(name!);
        if (!entry) throw notFound(name!);
        const items = entry.versions.map((v) => ({
          id: `${baseUrl}/secrets/${name}/${v.version}`,
          attributes: attributesOf(v),
          ...metadataOf(v),
        }));
        return { status: 200, body: page(items, url, `/secrets/${name}/versions`) };
      }
      if (parts.length === 3 && method === 'GET') {
        const version = findVersion(name!, third || undefined);
        if (!version.enabled) throw new HttpError(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.');
        return { status: 200, body: secretBundle(name!, version) };
      }
      if (parts.length === 3 && method === 'PATCH') {
        const version = findVersion(name!, third || undefined);
        const body = await readJson(req);
        // On a copy first, so a request refused halfway leaves the version untouched.
        const draft = { ...version };
        applyProperties(draft, body);
        Object.assign(version, draft, { updated: nowSeconds() });
        return { status: 200, body: secretBundle(name!, version) };
      }
      if (parts.length <= 3) throw methodNotAllowed();
      throw routeNotFound();
    }

    if (collection === 'deletedsecrets') {
      if (parts.length === 1 || (parts.length === 2 && name === '')) {
        if (method !== 'GET') throw methodNotAllowed();
        const items = [...deleted.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([n, entry]) => ({ ...deletedBundle(n, entry), id: `${baseUrl}/secrets/${n}` }));
        return { status: 200, body: page(items, url, '/deletedsecrets') };
      }
      checkName(name!);
      const entry = deleted.get(name!);
      if (parts.length === 2 && method === 'GET') {
        if (!entry) throw deletedNotFound(name!);
        return { status: 200, body: deletedBundle(name!, entry) };
      }
      if (parts.length === 2 && method === 'DELETE') {
        if (!entry) throw deletedNotFound(name!);
        deleted.delete(name!);
        return { status: 204 };
      }
      if (parts.length === 3 && third === 'recover' && method === 'POST') {
        if (!entry) throw deletedNotFound(name!);
        deleted.delete(name!);
        secrets.set(name!, { versions: entry.versions });
        return { status: 200, body: secretBundle(name!, entry.versions[entry.versions.length - 1]!) };
      }
      if (parts.length <= 3) throw methodNotAllowed();
    }
    throw routeNotFound();
  };

  const deletedNotFound = (name: string): HttpError => new HttpError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
  const methodNotAllowed = (): HttpError =>
    new HttpError(405, 'MethodNotAllowed', 'The requested method is not supported for this resource.');
  const routeNotFound = (): HttpError => new HttpError(404, 'NotFound', 'The requested resource was not found.');

  const send = (res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    res.writeHead(status, {
      ...headers,
      ...(payload !== undefined
        ? { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(payload)) }
        : { 'content-length': '0' }),
    });
    res.end(payload);
  };

  const authorized = (header: string | undefined): boolean => {
    const match = /^Bearer (.+)$/i.exec(header ?? '');
    if (!match) return false;
    const given = Buffer.from(match[1]!, 'utf8');
    return given.length === expectedToken.length && timingSafeEqual(given, expectedToken);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'https://emulator.invalid');
    const method = req.method ?? 'GET';
    // Paths hold names only; values travel in bodies, which are never logged.
    res.on('finish', () => log(`${method} ${url.pathname} ${res.statusCode}`));

    if (!available) {
      req.resume();
      send(res, 503, { error: { code: 'ServiceUnavailable', message: 'The service is temporarily unavailable.' } });
      return;
    }
    // Like the real service, authenticate before reading the body: the SDK's first request is a
    // body-less probe that expects this challenge.
    if (!authorized(req.headers.authorization)) {
      req.resume();
      send(
        res,
        401,
        { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } },
        { 'www-authenticate': CHALLENGE },
      );
      return;
    }
    handle(req, url).then(
      (result) => send(res, result.status, result.body),
      (error: unknown) => {
        req.resume();
        if (error instanceof HttpError) {
          send(res, error.status, { error: { code: error.code, message: error.message } });
        } else {
          // Internal details stay out of the answer and the log; only the status goes out.
          send(res, 500, { error: { code: 'InternalError', message: 'The emulator failed to process the request.' } });
        }
      },
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `https://127.0.0.1:${port}`;

  return {
    url: baseUrl,
    port,
    setAvailable(value: boolean) {
      available = value;
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // SDK clients keep connections alive; without this close() would wait for them to idle out.
        server.closeAllConnections();
      }),
  };
}
