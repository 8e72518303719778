// Checks recorded vendor requests against a vendor's own OpenAPI (3.x) or Swagger (2.0) document:
// the path must match one of its templates (path parameters of the declared type and enum), the
// method must be an operation there, every query parameter must be declared, and a JSON body must
// validate against the operation's body schema. Objects that declare properties are read as closed
// (no property the document does not name): a field the vendor does not document fails the check.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { projectRoot } from '../../local/projectRoot.js';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM interop.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (
  ajv: Ajv,
) => Ajv;

export interface RecordedRequest {
  method: string;
  url: string;
  contentType?: string;
  /** Parsed JSON body, when the request had one. */
  body?: unknown;
}

type Json = Record<string, any>;

/** The vendors' API documents are not part of this repository: they live in the steering
 *  repository's shared folder, laid beside the clone (sources listed in test/contract/README.md). */
export const VENDOR_DOCS_DIR = join(projectRoot(), '..', 'shared', 'vendor-api-docs');

/** The vendor document of that name, or undefined when the shared folder does not have it. */
export function loadVendorDocument(fileName: string): Json | undefined {
  const path = join(VENDOR_DOCS_DIR, fileName);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Json) : undefined;
}

/** Definition names with spaces (Mailchimp's) become plain identifiers, refs rewritten to match. */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}

function normalise(node: unknown, closeObjects: boolean): unknown {
  if (Array.isArray(node)) return node.map((item) => normalise(item, closeObjects));
  if (!node || typeof node !== 'object') return node;
  const source = node as Json;
  const result: Json = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === '$ref' && typeof value === 'string') {
      const parts = value.split('/');
      result.$ref = `#/definitions/${safeName(decodeURIComponent(parts[parts.length - 1]!))}`;
    } else if (key === 'example' || key === 'examples' || key.startsWith('x-')) {
      continue;
    } else {
      result[key] = normalise(value, closeObjects);
    }
  }
  // OpenAPI 3.0 `nullable` → JSON Schema's null type.
  if (result.nullable === true && typeof result.type === 'string') result.type = [result.type, 'null'];
  delete result.nullable;
  if (
    closeObjects &&
    result.properties &&
    typeof result.properties === 'object' &&
    result.additionalProperties === undefined &&
    !result.allOf &&
    !result.oneOf &&
    !result.anyOf
  ) {
    result.additionalProperties = false;
  }
  return result;
}

interface Operation {
  template: string;
  parameters: Json[];
  bodySchema?: Json;
  bodyRequired: boolean;
  bodyContentTypes?: string[];
}

export class ContractDocument {
  readonly title: string;
  private readonly doc: Json;
  private readonly basePath: string;
  private readonly ajv: Ajv;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(doc: Json) {
    this.doc = doc;
    this.title = `${doc.info?.title ?? 'document'} ${doc.info?.version ?? ''}`.trim();
    if (doc.swagger) this.basePath = (doc.basePath ?? '/').replace(/\/$/, '');
    else this.basePath = new URL(doc.servers?.[0]?.url ?? 'http://x/', 'http://x').pathname.replace(/\/$/, '');
    const definitions = (doc.swagger ? doc.definitions : doc.components?.schemas) ?? {};
    this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.ajv);
    this.ajv.addSchema({
      $id: 'vendor',
      definitions: Object.fromEntries(Object.entries(definitions).map(([name, schema]) => [safeName(name), normalise(schema, true)])),
    });
  }

  private resolve(node: Json): Json {
    if (!node?.$ref) return node;
    const parts = (node.$ref as string)
      .replace(/^#\//, '')
      .split('/')
      .map((part) => decodeURIComponent(part));
    let target: any = this.doc;
    for (const part of parts) target = target?.[part];
    return target as Json;
  }

  private operation(method: string, path: string): Operation | string {
    const relative = this.basePath && path.startsWith(this.basePath) ? path.slice(this.basePath.length) || '/' : path;
    // Literal segments win over parameters (/lists/subscribe before /lists/{listId}), as routers do.
    const templates = Object.entries(this.doc.paths as Json).sort(
      ([a], [b]) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0),
    );
    for (const [template, item] of templates) {
      const pattern = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '([^/]+)')}/?$`);
      const match = pattern.exec(relative);
      if (!match) continue;
      const op = (item as Json)[method.toLowerCase()];
      if (!op)
        return `${method} ${template} is not an operation of ${this.title} (it has ${Object.keys(item as Json)
          .filter((key) => key !== 'parameters')
          .join(', ')
          .toUpperCase()})`;
      const parameters = [...((item as Json).parameters ?? []), ...(op.parameters ?? [])].map((parameter: Json) => this.resolve(parameter));
      const names = [...template.matchAll(/\{([^}]+)\}/g)].map((found) => found[1]!);
      const values = match.slice(1).map((value) => decodeURIComponent(value));
      const errors: string[] = [];
      names.forEach((name, index) => {
        const parameter = parameters.find((candidate) => candidate.in === 'path' && candidate.name === name);
        if (!parameter) return errors.push(`path parameter ${name} is not declared`);
        const schema = parameter.schema ? this.resolve(parameter.schema.oneOf?.[0] ?? parameter.schema) : parameter;
        errors.push(...this.checkScalar(`path parameter ${name}`, values[index]!, schema));
      });
      if (errors.length > 0) return errors.join('; ');
      let bodySchema: Json | undefined;
      let bodyRequired = false;
      let bodyContentTypes: string[] | undefined;
      if (this.doc.swagger) {
        const body = parameters.find((parameter) => parameter.in === 'body');
        if (body) {
          bodySchema = body.schema;
          bodyRequired = body.required === true;
          bodyContentTypes = op.consumes ?? this.doc.consumes;
        }
      } else if (op.requestBody) {
        const requestBody = this.resolve(op.requestBody);
        bodyContentTypes = Object.keys(requestBody.content ?? {});
        bodySchema = requestBody.content?.['application/json']?.schema;
        bodyRequired = requestBody.required === true;
      }
      return { template, parameters, bodySchema, bodyRequired, bodyContentTypes };
    }
    return `${method} ${path} matches no path of ${this.title}`;
  }

  private checkScalar(what: string, value: string, schema: Json): string[] {
    const type = schema.type;
    if (type === 'integer' && !/^-?\d+$/.test(value)) return [`${what} must be an integer, not '${value}'`];
    if (type === 'number' && !Number.isFinite(Number(value))) return [`${what} must be a number, not '${value}'`];
    if (type === 'boolean' && value !== 'true' && value !== 'false') return [`${what} must be true or false, not '${value}'`];
    if (Array.isArray(schema.enum) && !schema.enum.map(String).includes(value))
      return [`${what} must be one of ${schema.enum.join(', ')}, not '${value}'`];
    return [];
  }

  /** Every way the request departs from the document; empty when it conforms. */
  check(request: RecordedRequest): string[] {
    const url = new URL(request.url);
    const found = this.operation(request.method, url.pathname);
    if (typeof found === 'string') return [found];
    const errors: string[] = [];
    for (const [name, value] of url.searchParams) {
      const parameter = found.parameters.find((candidate) => candidate.in === 'query' && candidate.name === name);
      if (!parameter) {
        errors.push(`query parameter '${name}' is not declared for ${request.method} ${found.template}`);
        continue;
      }
      errors.push(...this.checkScalar(`query parameter ${name}`, value, parameter.schema ? this.resolve(parameter.schema) : parameter));
    }
    if (request.body === undefined) {
      if (found.bodyRequired) errors.push(`${request.method} ${found.template} requires a body`);
      return errors;
    }
    if (!found.bodySchema) return [...errors, `${request.method} ${found.template} takes no body`];
    const type = (request.contentType ?? '').split(';')[0]!.trim().toLowerCase();
    if (found.bodyContentTypes && found.bodyContentTypes.length > 0 && !found.bodyContentTypes.includes(type)) {
      errors.push(
        `content type '${type}' is not one the document accepts for ${request.method} ${found.template} (${found.bodyContentTypes.join(', ')})`,
      );
    }
    const key = `${request.method} ${found.template}`;
    let validate = this.validators.get(key);
    if (!validate) {
      const schema = normalise(found.bodySchema, true) as Json;
      validate = this.ajv.compile((schema.$ref ? { $ref: `vendor${String(schema.$ref)}` } : rewriteRefs(schema)) as object);
      this.validators.set(key, validate);
    }
    if (!validate(request.body)) {
      for (const error of validate.errors ?? [])
        errors.push(
          `body${error.instancePath} ${error.message}${error.params && 'additionalProperty' in error.params ? `: '${String(error.params.additionalProperty)}'` : ''}`,
        );
    }
    return errors;
  }
}

/** Inline body schemas point into the shared definitions document. */
function rewriteRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node as Json).map(([key, value]) => [
      key,
      key === '$ref' && typeof value === 'string' ? `vendor${value}` : rewriteRefs(value),
    ]),
  );
}

/** Records every fetch made while `work` runs (the adapters call vendors through global fetch). */
export async function recordRequests<T>(work: () => Promise<T>): Promise<{ result: T; requests: RecordedRequest[] }> {
  const requests: RecordedRequest[] = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.toString() : input.url;
    const headers = new Headers(init?.headers);
    const contentType = headers.get('content-type') ?? undefined;
    let body: unknown;
    if (typeof init?.body === 'string') {
      try {
        body = JSON.parse(init.body);
      } catch {
        body = init.body;
      }
    } else if (init?.body) {
      body = Buffer.from(init.body as Uint8Array).toString('utf8');
    }
    requests.push({ method: (init?.method ?? 'GET').toUpperCase(), url, contentType, body });
    return realFetch(input, init);
  }) as typeof fetch;
  try {
    return { result: await work(), requests };
  } finally {
    globalThis.fetch = realFetch;
  }
}
