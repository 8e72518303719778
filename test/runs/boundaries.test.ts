// The run core and its workers keep their boundaries (read from the import statements, no build):
// the core (shared/runs) imports nothing of a worker; a worker (shared/segmentSender,
// shared/dataOut) reaches the core only through its worker interface (shared/runs/worker.ts) and
// never reaches the other worker; and nothing in shared/ is, or imports, demo-data generation.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../local/projectRoot.js';

const root = projectRoot();
const CORE = 'shared/runs';
const WORKERS = ['shared/segmentSender', 'shared/dataOut'];
const CORE_INTERFACE = 'shared/runs/worker.ts';

function sourceFiles(folder: string): string[] {
  return (readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' }) as string[])
    .filter((name) => name.endsWith('.ts'))
    .map((name) => `${folder}/${name.split(sep).join('/')}`);
}

/** Repository paths of the files a source file imports (relative specifiers only; packages are left out). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specifiers = [
    ...text.matchAll(
      /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g,
    ),
  ].map((match) => match[1] ?? match[2] ?? match[3]!);
  return specifiers
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) =>
      relative(root, resolve(root, dirname(file), specifier))
        .split(sep)
        .join('/')
        .replace(/\.js$/, '.ts'),
    );
}

const inFolder = (path: string, folder: string) => path.startsWith(`${folder}/`);

describe('run core and worker boundaries', () => {
  it('finds the core and both workers with their imports', () => {
    expect(sourceFiles(CORE)).toContain(CORE_INTERFACE);
    for (const worker of WORKERS) expect(sourceFiles(worker).length).toBeGreaterThan(1);
    // The reader sees every kind of import this codebase writes (a guard against a blind test).
    expect(importsOf('shared/segmentSender/sendChunk.ts')).toContain(CORE_INTERFACE);
    expect(importsOf('functions/runWorkers.ts')).toEqual([
      'shared/runs/workers.ts',
      'shared/segmentSender/segmentSender.ts',
      'shared/dataOut/dataOutWriter.ts',
    ]);
  });

  it('the core imports nothing from a worker', () => {
    const crossings = sourceFiles(CORE).flatMap((file) =>
      importsOf(file)
        .filter((target) => WORKERS.some((worker) => inFolder(target, worker)))
        .map((target) => `${file} -> ${target}`),
    );
    expect(crossings).toEqual([]);
  });

  it('workers reach the core only through its worker interface, and never each other', () => {
    const crossings = WORKERS.flatMap((worker) =>
      sourceFiles(worker).flatMap((file) =>
        importsOf(file)
          .filter(
            (target) =>
              (inFolder(target, CORE) && target !== CORE_INTERFACE) || WORKERS.some((other) => other !== worker && inFolder(target, other)),
          )
          .map((target) => `${file} -> ${target}`),
      ),
    );
    expect(crossings).toEqual([]);
  });

  it('nothing in shared/ generates demo data or imports what does', () => {
    const files = sourceFiles('shared');
    expect(files.filter((file) => /generateProfiles|seedLake/.test(file))).toEqual([]);
    const outside = files.flatMap((file) =>
      importsOf(file)
        .filter((target) => !inFolder(target, 'shared'))
        .map((target) => `${file} -> ${target}`),
    );
    expect(outside).toEqual([]);
  });
});
