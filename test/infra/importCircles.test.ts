// No module of the repository imports itself through others: a circle makes load order decide
// what is initialised, and ties layers that should depend one way only.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findCircles, readImportGraph, type ImportGraph } from './importGraph.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('import circles', () => {
  it('the repository has none', () => {
    const circles = findCircles(readImportGraph(root)).map((circle) => circle.join(' → '));
    expect(circles).toEqual([]);
  });

  it('reads the graph it checks: the known entry points and their imports are in it', () => {
    const graph = readImportGraph(root);
    expect(graph.get('functions/health.ts')?.length).toBeGreaterThan(0);
    expect(graph.get('test/infra/importCircles.test.ts')).toContain('test/infra/importGraph.ts');
  });

  it('finds a circle of three, a module importing itself, and nothing in a chain', () => {
    const graph: ImportGraph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts', 'd.ts']],
      ['d.ts', []],
      ['e.ts', ['e.ts']],
      ['f.ts', ['d.ts']],
    ]);
    expect(findCircles(graph)).toEqual([
      ['a.ts', 'b.ts', 'c.ts', 'a.ts'],
      ['e.ts', 'e.ts'],
    ]);
    expect(
      findCircles(
        new Map([
          ['x.ts', ['y.ts']],
          ['y.ts', []],
        ]),
      ),
    ).toEqual([]);
  });
});
