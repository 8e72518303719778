// The Bicep reader the consistency checks stand on. It is not a compiler (see bicepReader.ts):
// the compiler check is `az bicep build --file infra/main.bicep`, run where the Bicep CLI exists.
// These tests only show that it reads what the checks need from the files in infra/.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseBicep, resolveStrings, valueAtPath } from './bicepReader.js';

const infra = resolve(dirname(fileURLToPath(import.meta.url)), '../../infra');
const bicepFiles = readdirSync(infra)
  .filter((f) => f.endsWith('.bicep'))
  .sort();
const read = (file: string): string => readFileSync(join(infra, file), 'utf8');

describe('the reader reads every Bicep file in infra/', () => {
  it.each(bicepFiles)('%s: tokens balanced, declarations found', (file) => {
    const parsed = parseBicep(read(file));
    expect(parsed.problems).toEqual([]);
    expect(parsed.declarations.length).toBeGreaterThan(0);
  });

  it('main.bicep uses every other Bicep file as a module (nothing orphaned)', () => {
    const paths = parseBicep(read('main.bicep'))
      .declarations.filter((d) => d.kind === 'module')
      .map((d) => d.typeOrPath);
    for (const file of bicepFiles.filter((f) => f !== 'main.bicep')) expect(paths, file).toContain(file);
  });
});

describe('reading values', () => {
  const text = [
    "param prefix string = 'st'",
    "var names = ['a', 'b']",
    "resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {",
    "  name: '${prefix}x' // a comment { [",
    '  properties: {',
    "    minimumTlsVersion: 'TLS1_2'",
    '  }',
    '}',
    "resource many 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for n in names: {",
    '  name: n',
    '}]',
  ].join('\n');
  const file = parseBicep(text);
  const account = file.declarations.find((d) => d.name === 'account')!;

  it('finds declarations, their types and loop sources', () => {
    expect(file.declarations.map((d) => `${d.kind} ${d.name}`)).toEqual(['param prefix', 'var names', 'resource account', 'resource many']);
    expect(account.typeOrPath).toBe('Microsoft.Storage/storageAccounts@2023-05-01');
    const many = file.declarations.find((d) => d.name === 'many')!;
    expect(many.loopVariable).toBe('n');
    expect(resolveStrings(file, many.loopSource!)).toEqual(['a', 'b']);
  });

  it('reads a value at a property path, skipping comments', () => {
    expect(resolveStrings(file, valueAtPath(file.tokens, account.bodyOpen!, ['properties', 'minimumTlsVersion'])!)).toEqual(['TLS1_2']);
    expect(valueAtPath(file.tokens, account.bodyOpen!, ['name'])).toBeDefined();
  });

  it('reports text it cannot read (unbalanced, unterminated)', () => {
    expect(parseBicep("var a = {\n  b: 'c'\n").problems.join()).toMatch(/never closed/);
    expect(parseBicep("var a = 'open\n").problems.join()).toMatch(/unterminated string/);
  });
});
