// Loads a function app folder the way the Functions worker does and prints, as one JSON line,
// every function it registers (name, trigger binding) and every package the app's own files
// import. Run as `node test/infra/loadApp.mjs <appDir> <coreApiModule>`: <coreApiModule> is the
// local host's stand-in for `@azure/functions-core` (dist/local/host/coreApi.js), which captures
// the registrations exactly as the runtime receives them. A child process per app, so each load
// starts from an empty module cache. Plain JavaScript: it runs before and without a TypeScript build.
import { register } from 'node:module';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';

const [appDirArg, coreApiArg] = process.argv.slice(2);
if (!appDirArg || !coreApiArg) {
  console.error('usage: node loadApp.mjs <appDir> <coreApiModule>');
  process.exit(2);
}
const appDir = resolve(appDirArg);

// Records every bare specifier resolved from the app's own files (not from node_modules) in the
// module loader thread, which posts them back here.
const imports = new Set();
const { port1, port2 } = new MessageChannel();
port1.on('message', (specifier) => imports.add(specifier));
port1.unref();
const hooks = `
let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const parent = context.parentURL ?? '';
  if (parent.startsWith(${JSON.stringify(pathToFileURL(appDir).href + '/')}) && !parent.includes('/node_modules/')
      && !/^(node:|\\.|\\/|file:|data:)/.test(specifier)) port.postMessage(specifier);
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { port: port2 }, transferList: [port2] });

const { installCoreApi, triggerOf } = await import(pathToFileURL(resolve(coreApiArg)).href);
const { resolveMainFiles } = await import(pathToFileURL(resolve(coreApiArg, '..', 'functionsHost.js')).href);
const registry = installCoreApi();
const files = resolveMainFiles(appDir);
for (const file of files) await import(pathToFileURL(file).href);
// Let the loader thread's last messages arrive.
await new Promise((done) => setTimeout(done, 50));

const packageOf = (specifier) => (specifier.startsWith('@') ? specifier.split('/').slice(0, 2) : specifier.split('/').slice(0, 1)).join('/');
const functions = registry.functions
  .map((fn) => {
    const trigger = triggerOf(fn);
    const { name, direction, type, ...detail } = trigger;
    return { name: fn.metadata.name, trigger: type, detail };
  })
  .sort((a, b) => a.name.localeCompare(b.name));
const entryFiles = files.map((file) => relative(appDir, file).split(sep).join('/'));
process.stdout.write(
  JSON.stringify({ entryFiles, functions, packages: [...new Set([...imports].map(packageOf))].sort() }) + '\n',
);
process.exit(0);
