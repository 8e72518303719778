// The structural checker on every file in infra/, on small snippets, and on mutated copies of the
// real files (so each rule is shown to fail when it should). `az bicep build` is the real check.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lintBicep, parseBicep } from './bicepLint.js';

const infra = resolve(dirname(fileURLToPath(import.meta.url)), '../../infra');
const bicepFiles = readdirSync(infra).filter((f) => f.endsWith('.bicep')).sort();
const read = (file: string): string => readFileSync(join(infra, file), 'utf8');
const readModule = (path: string): string | undefined => {
  const full = join(infra, path);
  return existsSync(full) ? readFileSync(full, 'utf8') : undefined;
};
const lint = (text: string): string[] => lintBicep(text, { readModule });

/** Applies a replacement and insists it changed something, so a mutation test cannot pass vacuously. */
function mutate(text: string, from: string | RegExp, to: string): string {
  const out = text.replace(from, to);
  expect(out, `mutation ${String(from)} did not apply`).not.toBe(text);
  return out;
}

describe('every Bicep file in infra/ passes the structural check', () => {
  it('has the modules, one per concern', () => {
    expect(bicepFiles).toEqual(
      expect.arrayContaining(['main.bicep', 'identity.bicep', 'storage.bicep', 'keyVault.bicep', 'monitoring.bicep', 'functionApp.bicep', 'roleAssignments.bicep', 'lakeAccess.bicep']),
    );
  });

  it.each(bicepFiles)('%s', (file) => {
    expect(lint(read(file))).toEqual([]);
  });

  it('main.bicep uses every other Bicep file as a module (nothing orphaned)', () => {
    const paths = parseBicep(read('main.bicep'))
      .declarations.filter((d) => d.kind === 'module')
      .map((d) => d.typeOrPath);
    for (const file of bicepFiles.filter((f) => f !== 'main.bicep')) expect(paths, file).toContain(file);
  });
});

describe('structural checker rules (snippets)', () => {
  it('ignores brackets inside strings, comments and multi-line strings', () => {
    const text = [
      "param a string = '{[('",
      '// } ] ) in a comment',
      '/* { unclosed in a block comment */',
      "var b = '''",
      '  { ] ( raw',
      "'''",
      "output o string = '${a}${b}'",
    ].join('\n');
    expect(lintBicep(text)).toEqual([]);
  });

  it('reports a missing closing brace, a stray parenthesis and a mismatched pair', () => {
    expect(lintBicep("var a = {\n  b: 'c'\n\noutput o object = a").join()).toMatch(/'\{' is never closed/);
    expect(lintBicep("var a = 'x')\noutput o string = a").join()).toMatch(/'\)' closes nothing/);
    expect(lintBicep('var a = [1, 2)\noutput o array = a').join()).toMatch(/'\)' closes '\['/);
  });

  it('reports unterminated strings, interpolations and comments', () => {
    expect(lintBicep("var a = 'open\noutput o string = a").join()).toMatch(/unterminated string/);
    expect(lintBicep("var a = '${b'\n").join()).toMatch(/unterminated/);
    expect(lintBicep("var a = 1 /* never closed\noutput o int = a").join()).toMatch(/unterminated \/\* comment/);
  });

  it('reports a parameter that is never used, and a variable that is never used', () => {
    expect(lintBicep("param used string\nparam unused string\noutput o string = used")).toEqual(["line 2: param 'unused' is declared but never used"]);
    expect(lintBicep("var lonely = 1\noutput o int = 2")).toEqual(["line 1: var 'lonely' is declared but never used"]);
  });

  it('reports undefined symbols, in expressions and in interpolations', () => {
    expect(lintBicep('output o string = missing')).toEqual(["line 1: 'missing' is not declared"]);
    expect(lintBicep("output o string = 'x${alsoMissing}'")).toEqual(["line 1: 'alsoMissing' is not declared"]);
  });

  it('does not take object keys, properties, functions, loop variables or nested resources for symbols', () => {
    const text = [
      "param names array = ['a']",
      "param location string = resourceGroup().location",
      "resource parentThing 'Microsoft.Storage/storageAccounts@2023-05-01' = {",
      '  name: names[0]',
      '  location: location',
      "  resource child 'blobServices' = {",
      "    name: 'default'",
      '  }',
      '}',
      "resource many 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for (n, i) in names: {",
      '  parent: parentThing::child',
      "  name: '${n}-${i}'",
      '}]',
      'output ids array = map(names, x => toUpper(x))',
      'output endpoint string = parentThing.properties.primaryEndpoints.blob',
    ].join('\n');
    expect(lintBicep(text)).toEqual([]);
  });

  it('reports duplicate declarations', () => {
    expect(lintBicep("param a string\nvar a = 'x'\noutput o string = a").join()).toMatch(/'a' is declared more than once/);
  });

  it('reports module paths that do not exist, unknown outputs, unknown and missing params', () => {
    const moduleText = "param needed string\nparam optional string = ''\noutput id string = '${needed}${optional}'";
    const modules: Record<string, string> = { 'child.bicep': moduleText };
    const check = (text: string): string => lintBicep(text, { readModule: (p) => modules[p] }).join('\n');
    const ok = "module m 'child.bicep' = {\n  name: 'm'\n  params: {\n    needed: 'x'\n  }\n}\noutput o string = m.outputs.id";
    expect(check(ok)).toBe('');
    expect(check(ok.replace('child.bicep', 'missing.bicep'))).toMatch(/does not exist/);
    expect(check(ok.replace('m.outputs.id', 'm.outputs.nope'))).toMatch(/has no output 'nope'/);
    expect(check(ok.replace("needed: 'x'", "needed: 'x'\n    extra: 1"))).toMatch(/passes 'extra'/);
    expect(check(ok.replace("needed: 'x'", "optional: 'y'"))).toMatch(/required param 'needed'/);
  });
});

describe('structural checker on mutated copies of the real files', () => {
  const main = read('main.bicep');
  const functionApp = read('functionApp.bicep');
  const storage = read('storage.bicep');

  it('a removed closing brace fails', () => {
    expect(lint(mutate(main, /\n}\n(?![\s\S]*\n}\n)/, '\n\n')).join()).toMatch(/never closed/);
    expect(lint(mutate(storage, /\n}\]\n/, '\n]\n')).join()).toMatch(/closes/);
  });

  it('an extra parenthesis fails', () => {
    expect(lint(mutate(functionApp, 'union(appSettings, lakeSettings)', 'union(appSettings, lakeSettings))')).join()).toMatch(/closes nothing/);
  });

  it('an undefined symbol fails', () => {
    expect(lint(mutate(main, 'location: location\n', 'location: locationTypo\n'))).toContain("line " + lineOf(main, 'location: location\n') + ": 'locationTypo' is not declared");
    expect(lint(mutate(functionApp, "'ClientId=${identityClientId};", "'ClientId=${identityClientID};")).join()).toMatch(/'identityClientID' is not declared/);
  });

  it('an unused param fails', () => {
    expect(lint(mutate(storage, /\nvar queueNames/, "\nparam forgotten string = 'x'\n\nvar queueNames")).join()).toMatch(/param 'forgotten' is declared but never used/);
  });

  it('a wrong module path, an unknown module output and an unknown module param fail', () => {
    expect(lint(mutate(main, "module storage 'storage.bicep'", "module storage 'storag.bicep'")).join()).toMatch(/'storag.bicep', which does not exist/);
    expect(lint(mutate(main, 'storage.outputs.blobEndpoint', 'storage.outputs.blobEndpointUri')).join()).toMatch(/storage.bicep has no output 'blobEndpointUri'/);
    expect(lint(mutate(main, '    skuName: storageSkuName\n', '    skuName: storageSkuName\n    kind: storageSkuName\n')).join()).toMatch(/passes 'kind'/);
    expect(lint(mutate(main, '    keyVaultUri: keyVault.outputs.uri\n', '')).join()).toMatch(/required param 'keyVaultUri'/);
  });
});

function lineOf(text: string, needle: string): number {
  return text.slice(0, text.indexOf(needle)).split('\n').length;
}
