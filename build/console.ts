// Builds the console (console/ → dist/console): one minified ES module bundle plus a lazily
// loaded chunk for Entra ID sign-in (MSAL), one stylesheet, all with content hashes in their
// names, and index.html pointing at them. Part of `npm run build`, so it also runs in the remote
// build on Azure: build/ ships in the deployment package (infra/README.md, Packaging) and imports
// nothing from the development folders (local/, scripts/, …), which do not.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// The project root: above dist/build/ when compiled, above build/ as a source.
const here = dirname(fileURLToPath(import.meta.url));
const root = basename(dirname(here)) === 'dist' ? join(here, '..', '..') : join(here, '..');
const source = join(root, 'console');
const out = join(root, 'dist', 'console');

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { main: join(source, 'src', 'main.ts'), styles: join(source, 'styles.css') },
  bundle: true,
  splitting: true,
  format: 'esm',
  target: ['es2022', 'chrome111', 'firefox111', 'safari16.4'],
  minify: true,
  legalComments: 'none',
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  chunkNames: '[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.entries(result.metafile.outputs).map(([path, output]) => ({
  path: relative(out, join(root, path)).split('\\').join('/'),
  output,
}));
const script = outputs.find(({ output }) => output.entryPoint?.endsWith('main.ts'));
const styles = outputs.find(({ path }) => path.endsWith('.css'));
if (!script || !styles) throw new Error('The console build made no script or no stylesheet.');

const page = readFileSync(join(source, 'index.html'), 'utf8')
  .replace('%SCRIPT%', `/api/console/${script.path}`)
  .replace('%STYLES%', `/api/console/${styles.path}`);
writeFileSync(join(out, 'index.html'), page);

// What a first visit loads (the entry and the chunks it imports statically), for the README's budget.
const firstLoad = [
  script.path,
  ...(script.output.imports ?? [])
    .filter((entry) => entry.kind === 'import-statement')
    .map((entry) => relative(out, join(root, entry.path)).split('\\').join('/')),
];
const sizes = Object.fromEntries(outputs.map(({ path, output }) => [path, output.bytes]));
writeFileSync(join(out, 'manifest.json'), JSON.stringify({ script: script.path, styles: styles.path, firstLoad, sizes }, null, 2));
