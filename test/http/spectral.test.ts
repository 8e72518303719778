// The OpenAPI document, generated in-process as GET /api/openapi.json serves it, passes Spectral's
// OpenAPI rules and the OWASP API Security ruleset with the project's ruleset (.spectral.yaml) at
// zero errors.
import * as fs from 'node:fs';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { Document, Spectral, type ISpectralDiagnostic, type Ruleset } from '@stoplight/spectral-core';
import { Json } from '@stoplight/spectral-parsers';
import { createRequire } from 'node:module';
import { buildOpenApiDocument } from '../../shared/http/openApiDocument.js';
import { PROJECT_DIR } from '../../local/stack.js';

const ERROR = 0;
// Loaded untyped: the bundler's type declarations pull the DOM library into the whole typecheck.
const { bundleAndLoadRuleset } = createRequire(import.meta.url)('@stoplight/spectral-ruleset-bundler/with-loader') as {
  bundleAndLoadRuleset: (path: string, io: { fs: typeof fs; fetch: () => Promise<never> }) => Promise<Ruleset>;
};
let results: ISpectralDiagnostic[];

beforeAll(async () => {
  vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  const folder = join(PROJECT_DIR, 'functions');
  for (const file of readdirSync(folder).filter((name) => name.endsWith('.ts'))) await import(pathToFileURL(join(folder, file)).href);
  const document = JSON.stringify(buildOpenApiDocument(), null, 2);
  // No fetch: every rule comes from this repository and node_modules.
  const ruleset = await bundleAndLoadRuleset(join(PROJECT_DIR, '.spectral.yaml'), {
    fs,
    fetch: () => Promise.reject(new Error('Spectral may not fetch rulesets over the network')),
  });
  const spectral = new Spectral();
  spectral.setRuleset(ruleset);
  results = await spectral.run(new Document(document, Json, join(PROJECT_DIR, 'openapi.json')));
}, 120_000);

describe('Spectral with the OWASP ruleset', () => {
  it('finds no errors', () => {
    const errors = results
      .filter((result) => (result.severity as number) === ERROR)
      .map((result) => `${result.code} at ${result.path.join('.')}: ${result.message}`);
    expect(errors).toEqual([]);
  });

  it("ran the OWASP rules and the project's request rules", () => {
    // A warning-level OWASP rule still reports, so the ruleset was loaded and applied.
    expect(results.some((result) => String(result.code).startsWith('owasp:'))).toBe(true);
  });
});
