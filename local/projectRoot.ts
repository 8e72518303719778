import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, whether this runs from dist/ or from the TypeScript sources (tests). */
export function projectRoot(from = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'outflow') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('Could not find the project root (package.json named outflow).');
    dir = parent;
  }
}
