// The console's built files (dist/console, made by build/console.ts), read once per
// instance and answered from memory: hashed assets cached for a year, the page itself never.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { createHash } from 'node:crypto';

export interface ConsoleAsset {
  body: Buffer;
  contentType: string;
  etag: string;
  /** Hashed names never change content, so a browser may keep them a year. */
  immutable: boolean;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/** Where the build writes the console: dist/console, next to dist/shared. */
export const CONSOLE_BUILD_DIR = join(import.meta.dirname, '..', '..', 'console');

let loaded: { dir: string; files: Map<string, ConsoleAsset> } | undefined;

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

/** Every file of the built console by its path under /api/console ('index.html', 'assets/main-HASH.js'). */
export function consoleFiles(dir = CONSOLE_BUILD_DIR): Map<string, ConsoleAsset> {
  if (loaded?.dir === dir) return loaded.files;
  const files = new Map<string, ConsoleAsset>();
  for (const path of listFiles(dir)) {
    const name = relative(dir, path).split(sep).join('/');
    const contentType = CONTENT_TYPES[extname(path)];
    if (!contentType || name === 'manifest.json') continue;
    const body = readFileSync(path);
    files.set(name, {
      body,
      contentType,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      immutable: name.startsWith('assets/'),
    });
  }
  loaded = { dir, files };
  return files;
}
