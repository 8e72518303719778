// Builds the deployment package by the rules `azd deploy` applies (.funcignore with gitignore
// semantics, see deployPackage.ts), unpacks it into an empty folder, runs there what the remote
// build on Flex Consumption runs (install, `npm run build`, `npm run build:azure` = prune to
// production dependencies), and loads the app from the result: every function must register with
// the same name and trigger as from this checkout, and no devDependency may be imported.
//
// Install: by default the checkout's node_modules stands in for `npm install` (same lock file;
// a real install takes minutes here), and the prune keeps exactly the packages package-lock.json
// marks as production ones, linked from the checkout. OUTFLOW_PACKAGE_INSTALL=npm runs the real
// `npm ci` and `npm run build:azure` in the folder instead (needs the npm cache or the registry).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  azdRemoteBuildError,
  checkPackageFitsBuildMode,
  DEVELOPMENT_FOLDERS,
  dynamicImports,
  packageFiles,
  packageName,
  productionPackages,
  PRUNE_SCRIPT,
  readIgnore,
  remoteBuildOf,
  unpack,
} from './deployPackage.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const LOAD_APP = join(ROOT, 'test', 'infra', 'loadApp.mjs');
const CORE_API = join(ROOT, 'dist', 'local', 'host', 'coreApi.js');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

interface PackageJson {
  main: string;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

interface LoadedApp {
  entryFiles: string[];
  functions: { name: string; trigger: string; detail: Record<string, unknown> }[];
  packages: string[];
}

const packageJson = JSON.parse(read('package.json')) as PackageJson;
const funcignore = read('.funcignore');
const azureYaml = read('azure.yaml');

/** The .funcignore this repository had before the package was tested (kept to show the test fails on it). */
const FUNCIGNORE_BEFORE =
  '.git*\n.vscode\n.outflow\n.ci\nlocal.settings.json\nlocal.settings.sample.json\ntest\nbench\ninfra\ncoverage\n*.ts\n!dist/**/*.js\ntsconfig.json\nvitest.config.ts\n';

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): { status: number | null; output: string } {
  const result = spawnSync(command, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}` };
}

function loadApp(appDir: string): LoadedApp {
  // Settings the code reads at import stay unset, as in a fresh Azure worker before app settings matter.
  const { status, output } = run(process.execPath, [LOAD_APP, appDir, CORE_API], appDir);
  expect(status, output).toBe(0);
  return JSON.parse(output.trim().split('\n').at(-1)!) as LoadedApp;
}

/** What the remote build compiles: the TypeScript of functions/, shared/ and build/, and the console's sources. */
function appSources(): string[] {
  const walk = (dir: string, keep: (name: string) => boolean): string[] =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? walk(`${dir}/${entry.name}`, keep) : keep(entry.name) ? [`${dir}/${entry.name}`] : [],
    );
  const typescript = (name: string): boolean => name.endsWith('.ts');
  return [
    ...walk('functions', typescript),
    ...walk('shared', typescript),
    ...walk('build', typescript),
    ...walk('console', () => true),
  ].sort();
}

describe('the package fits the build mode (static)', () => {
  it('azure.yaml asks for a remote build and .funcignore, package.json agree', () => {
    expect(remoteBuildOf(azureYaml)).toBe(true);
    expect(checkPackageFitsBuildMode({ funcignore, azureYaml, scripts: packageJson.scripts, appSources: appSources() })).toEqual([]);
  });

  it('rejects the .funcignore of before: azd refuses it, and it leaves out the sources and tsconfig.json', () => {
    const problems = checkPackageFitsBuildMode({
      funcignore: FUNCIGNORE_BEFORE,
      azureYaml,
      scripts: packageJson.scripts,
      appSources: appSources(),
    }).join('\n');
    expect(azdRemoteBuildError(readIgnore(FUNCIGNORE_BEFORE), true)).toMatch(/requires '.funcignore' to exclude node_modules/);
    expect(problems).toContain('azd refuses to deploy');
    expect(problems).toContain('.funcignore leaves out tsconfig.json');
    expect(problems).toContain('.funcignore leaves out functions/health.ts');
    expect(problems).toContain('.funcignore ships local/');
    expect(problems).toContain('.funcignore ships scripts/');
  });

  it('names each way the build mode and the package can disagree', () => {
    const shape = { funcignore, azureYaml, scripts: packageJson.scripts, appSources: ['functions/health.ts'] };
    expect(checkPackageFitsBuildMode({ ...shape, azureYaml: azureYaml.replace('remoteBuild: true', 'remoteBuild: false') }).join()).toMatch(
      /'remoteBuild: false' cannot be used/,
    );
    expect(checkPackageFitsBuildMode({ ...shape, funcignore: funcignore.replace('/dist/\n', '') }).join()).toMatch(/ships dist\//);
    expect(checkPackageFitsBuildMode({ ...shape, funcignore: `${funcignore}\n*.ts\n` }).join()).toMatch(/leaves out functions\/health.ts/);
    expect(checkPackageFitsBuildMode({ ...shape, funcignore: funcignore.replace('/bench/\n', '') }).join()).toMatch(/ships bench\//);
    expect(checkPackageFitsBuildMode({ ...shape, scripts: { build: 'tsc' } }).join()).toMatch(/build:azure/);
  });

  it('reads dynamic imports and package names', () => {
    expect(dynamicImports("const { a } = await import('@azure/monitor-opentelemetry');\nimport('./x.js')")).toEqual([
      '@azure/monitor-opentelemetry',
      './x.js',
    ]);
    expect(packageName('@azure/functions/types')).toBe('@azure/functions');
    expect(packageName('zod/v4')).toBe('zod');
  });
});

describe('the package azd deploys, built remotely, loads the same app', () => {
  const installWithNpm = process.env.OUTFLOW_PACKAGE_INSTALL === 'npm';
  let work: string;
  let packageDir: string;
  let files: string[];
  let local: LoadedApp;
  let deployed: LoadedApp;

  beforeAll(() => {
    // azd refuses before it zips anything; so does this test.
    const refusal = azdRemoteBuildError(readIgnore(funcignore), remoteBuildOf(azureYaml));
    if (refusal) throw new Error(`azd deploy would fail: ${refusal}`);
    work = mkdtempSync(join(tmpdir(), 'outflow-package-'));
    packageDir = join(work, 'wwwroot');
    mkdirSync(packageDir);
    files = packageFiles(ROOT, funcignore);
    unpack(ROOT, files, packageDir);

    // Install (all dependencies: the build needs typescript and @types).
    if (installWithNpm) {
      const install = run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], packageDir);
      expect(install.status, install.output).toBe(0);
    } else {
      symlinkSync(join(ROOT, 'node_modules'), join(packageDir, 'node_modules'), 'dir');
    }
    // Build, as Oryx does: `npm run build`.
    const build = run('npm', ['run', 'build'], packageDir);
    expect(build.status, build.output).toBe(0);
    // Prune to production: `npm run build:azure`.
    if (installWithNpm) {
      const prune = run('npm', ['run', 'build:azure'], packageDir);
      expect(prune.status, prune.output).toBe(0);
    } else {
      rmSync(join(packageDir, 'node_modules'));
      for (const name of productionPackages(JSON.parse(read('package-lock.json')))) {
        const from = join(ROOT, 'node_modules', name);
        const to = join(packageDir, 'node_modules', name);
        mkdirSync(dirname(to), { recursive: true });
        try {
          symlinkSync(from, to, 'dir');
        } catch (error) {
          // Optional packages for other platforms are in the lock file but not installed.
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
    }
    local = loadApp(ROOT);
    deployed = loadApp(packageDir);
  }, 600_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('holds the sources, the build inputs and host.json, and nothing else at the top', () => {
    const top = [...new Set(files.map((file) => file.split('/')[0]))].sort();
    expect(top).toEqual(['build', 'console', 'functions', 'host.json', 'package-lock.json', 'package.json', 'shared', 'tsconfig.json']);
    expect(files).toContain('functions/health.ts');
  });

  it('ships nothing from local/, bench/, scripts/, test/, no local build and no local settings', () => {
    for (const folder of [...DEVELOPMENT_FOLDERS, 'dist', 'node_modules']) {
      expect(
        files.filter((file) => file.startsWith(`${folder}/`)),
        folder,
      ).toEqual([]);
    }
    expect(files.filter((file) => /(^|\/)local\.settings/.test(file))).toEqual([]);
  });

  it('the remote build compiles only the app: dist/ holds functions/, shared/, the console and its build step', () => {
    expect(readdirSync(join(packageDir, 'dist')).sort()).toEqual(['build', 'console', 'functions', 'shared']);
    expect(readdirSync(join(packageDir, 'dist', 'console'))).toContain('index.html');
    expect(packageJson.scripts['build:azure']).toBe(PRUNE_SCRIPT);
  });

  it('every function registers with the same name and trigger as from this checkout', () => {
    expect(local.functions.length).toBeGreaterThan(0);
    expect(deployed.entryFiles).toEqual(local.entryFiles);
    expect(deployed.functions).toEqual(local.functions);
    for (const trigger of ['httpTrigger', 'queueTrigger', 'timerTrigger']) {
      expect(
        deployed.functions.some((fn) => fn.trigger === trigger),
        trigger,
      ).toBe(true);
    }
  });

  it('imports no devDependency at run time, and every package it imports is a production one', () => {
    const dev = new Set(Object.keys(packageJson.devDependencies));
    const prod = new Set(Object.keys(packageJson.dependencies));
    expect(deployed.packages.filter((name) => dev.has(name))).toEqual([]);
    expect(deployed.packages.filter((name) => !prod.has(name))).toEqual([]);
  });

  it('the packages loaded later (dynamic imports) are production dependencies that resolve after the prune', () => {
    const compiled = (dir: string): string[] =>
      readdirSync(join(packageDir, dir), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? compiled(`${dir}/${entry.name}`) : entry.name.endsWith('.js') ? [`${dir}/${entry.name}`] : [],
      );
    const later = [
      ...new Set(
        compiled('dist')
          .flatMap((file) => dynamicImports(readFileSync(join(packageDir, file), 'utf8')))
          .filter((specifier) => !/^(\.|\/|node:)/.test(specifier))
          .map(packageName),
      ),
    ];
    expect(later).toContain('@azure/monitor-opentelemetry');
    for (const name of later) {
      expect(Object.keys(packageJson.dependencies), name).toContain(name);
      const resolved = run(
        process.execPath,
        ['--input-type=module', '-e', `await import.meta.resolve(${JSON.stringify(name)})`],
        packageDir,
      );
      expect(resolved.status, `${name}: ${resolved.output}`).toBe(0);
    }
  });
});
