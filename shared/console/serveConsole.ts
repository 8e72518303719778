// Answers GET /api/console/{path}: the page (never cached, its sign-in settings in a <meta> tag)
// and its hashed assets (cached a year), every answer with a strict Content-Security-Policy.
import type { HttpResponseInit } from '@azure/functions';
import { consoleFiles, type ConsoleAsset } from './consoleAssets.js';
import { consoleConfig, contentSecurityPolicy } from './consoleConfig.js';

const CONFIG_META = '<meta name="outflow-console" content="{}">';

function escapeAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function serveConsole(
  path: string,
  options: { ifNoneMatch?: string | null; head?: boolean; buildDir?: string } = {},
): HttpResponseInit {
  const config = consoleConfig();
  const common = {
    'content-security-policy': contentSecurityPolicy(config),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
  };
  let files: Map<string, ConsoleAsset>;
  try {
    files = consoleFiles(options.buildDir);
  } catch {
    return {
      status: 503,
      headers: { ...common, 'content-type': 'text/plain; charset=utf-8' },
      body: 'The console is not built: run npm run build.',
    };
  }
  const name = path === '' ? 'index.html' : path;
  const asset = files.get(name);
  if (!asset)
    return {
      status: 404,
      headers: { ...common, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
      body: 'Not found',
    };
  if (name === 'index.html') {
    const page = asset.body
      .toString('utf8')
      .replace(CONFIG_META, `<meta name="outflow-console" content="${escapeAttribute(JSON.stringify(config))}">`);
    return {
      status: 200,
      headers: { ...common, 'content-type': asset.contentType, 'cache-control': 'no-cache' },
      body: options.head ? undefined : page,
    };
  }
  const headers = {
    ...common,
    'content-type': asset.contentType,
    etag: asset.etag,
    'cache-control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  };
  if (options.ifNoneMatch && options.ifNoneMatch.split(',').some((tag) => tag.trim() === asset.etag)) return { status: 304, headers };
  return { status: 200, headers, body: options.head ? undefined : asset.body };
}
