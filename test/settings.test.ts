// Every setting the code reads is declared once (shared/settings.ts), in the sample local
// settings and in the README; host.json agrees with the constants the code relies on.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../shared/settings.js';
import { MAX_DEQUEUE_COUNT } from '../shared/storage/hostSettings.js';

const root = join(import.meta.dirname, '..');
/** Settings the Functions platform itself defines; the local host honours them too. */
const PLATFORM_SETTINGS = ['AZURE_FUNCTIONS_ENVIRONMENT', 'WEBSITE_TIME_ZONE', 'FUNCTIONS_WORKER_RUNTIME', 'NODE_EXTRA_CA_CERTS'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function settingsReadByCode(): Set<string> {
  const names = new Set<string>();
  for (const dir of ['functions', 'shared', 'local', 'scripts', 'bench']) {
    for (const file of sourceFiles(join(root, dir))) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/process\.env\.([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(match[1]!);
      for (const match of text.matchAll(/\b(?:setting|requiredSetting|localSetting)\(\s*'([A-Za-z_][A-Za-z0-9_]*)'/g)) names.add(match[1]!);
    }
  }
  return names;
}

describe('settings', () => {
  it('declares every setting the code reads', () => {
    const undeclared = [...settingsReadByCode()].filter((name) => !(name in SETTINGS) && !PLATFORM_SETTINGS.includes(name));
    expect(undeclared).toEqual([]);
  });

  it('lists every declared setting in local.settings.sample.json', () => {
    const sample = JSON.parse(readFileSync(join(root, 'local.settings.sample.json'), 'utf8')) as { Values: Record<string, string> };
    expect(Object.keys(SETTINGS).filter((name) => !(name in sample.Values))).toEqual([]);
  });

  it('documents every declared setting in the README', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(Object.keys(SETTINGS).filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });

  it('agrees with host.json on the poison threshold', () => {
    const host = JSON.parse(readFileSync(join(root, 'host.json'), 'utf8'));
    expect(host.extensions.queues.maxDequeueCount).toBe(MAX_DEQUEUE_COUNT);
  });
});
