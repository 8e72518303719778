// No module of the repository imports itself through others: a circle makes load order decide
// what is initialised, and ties layers that should depend one way only.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findCircles, readImportGraph, type ImportGraph } from './importGraph.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Circles known and not yet broken; the list must match exactly, so a new circle fails and a broken
 * one must leave the list. The run core's own: its worker interface (worker.ts) re-exports
 * finalizeRun, which reads the registry (workers.ts), which names the interface's type.
 */
const KNOWN_CIRCLES = ['shared/runs/finalizeRun.ts → shared/runs/workers.ts → shared/runs/worker.ts → shared/runs/finalizeRun.ts'];

describe('import circles', () => {
  it('the repository has none but the known ones', () => {
    const circles = findCircles(readImportGraph(root)).map((circle) => circle.join(' → '));
    expect(circles).toEqual(KNOWN_CIRCLES);
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
