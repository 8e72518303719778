// The deployment package as `azd deploy` (and Core Tools' `func azure functionapp publish`) builds
// it from this folder, and the checks that the package fits the build mode azure.yaml asks for.
//
// azd (cli/azd/pkg/project/service_target_functionapp.go and zip.go in Azure/azure-dev):
//   - zips the service folder, leaving out `.azure` folders, the `.funcignore` file itself and
//     `local.settings.json`, then every path `.funcignore` ignores, read with gitignore semantics
//     (github.com/denormal/go-gitignore); an ignored folder is not entered;
//   - refuses `remoteBuild: true` unless `.funcignore` ignores node_modules ("'remoteBuild: true'
//     requires '.funcignore' to exclude node_modules"), and `remoteBuild: false` when it does.
// On Flex Consumption a remote build is Oryx's Node build (microsoft/Oryx doc/runtimes/nodejs.md):
// `npm install` (devDependencies included), `npm run build`, then `npm run build:azure` if present.
// The `ignore` package implements the same gitignore rules (it is what eslint uses).
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import ignore, { type Ignore } from 'ignore';

/** Folders that hold development tools, never the app: none of them may ship. */
export const DEVELOPMENT_FOLDERS = ['local', 'bench', 'scripts', 'test'] as const;

/** What `build:azure` must run so the deployed app has no devDependencies. */
export const PRUNE_SCRIPT = 'npm prune --omit=dev';

export function readIgnore(funcignoreText: string): Ignore {
  // A UTF-8 byte order mark would become part of the first pattern (azd strips it too).
  return ignore().add(funcignoreText.replace(/^\uFEFF/, ''));
}

/** Whether the package leaves out a path (relative, '/'-separated; folders as `name/`). */
export function ignored(rules: Ignore, path: string, isDirectory: boolean): boolean {
  return rules.ignores(isDirectory ? `${path}/` : path);
}

/** azd's error when remoteBuild and .funcignore disagree, or undefined when they agree. */
export function azdRemoteBuildError(rules: Ignore, remoteBuild: boolean | undefined): string | undefined {
  const nodeModulesExcluded = ignored(rules, 'node_modules', true);
  if (remoteBuild === true && !nodeModulesExcluded) return "'remoteBuild: true' requires '.funcignore' to exclude node_modules";
  if (remoteBuild === false && nodeModulesExcluded) return "'remoteBuild: false' cannot be used when '.funcignore' excludes node_modules";
  return undefined;
}

/** The `remoteBuild` value of the (single) service in azure.yaml, undefined when not set. */
export function remoteBuildOf(azureYaml: string): boolean | undefined {
  const match = /^\s+remoteBuild:\s*(true|false)\s*(#.*)?$/m.exec(azureYaml);
  return match ? match[1] === 'true' : undefined;
}

/**
 * The files azd puts in the package, relative to root and '/'-separated, sorted. Symbolic links
 * count as what they point to, as in azd.
 */
export function packageFiles(root: string, funcignoreText: string): string[] {
  const rules = readIgnore(funcignoreText);
  const files: string[] = [];
  const visit = (relative: string): void => {
    for (const name of readdirSync(relative ? join(root, relative) : root).sort()) {
      const path = relative ? `${relative}/${name}` : name;
      const full = join(root, path);
      const isDirectory = lstatSync(full).isSymbolicLink() ? statSync(full).isDirectory() : lstatSync(full).isDirectory();
      if (isDirectory && name === '.azure') continue;
      if (!isDirectory && (name === '.funcignore' || name === 'local.settings.json')) continue;
      if (ignored(rules, path, isDirectory)) continue;
      if (isDirectory) visit(path);
      else files.push(path);
    }
  };
  visit('');
  return files;
}

/** Copies the package's files into an (empty) folder, as unzipping it there would. */
export function unpack(root: string, files: string[], target: string): void {
  for (const file of files) {
    const to = join(target, file);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join(root, file), to);
  }
}

export interface PackageShape {
  funcignore: string;
  azureYaml: string;
  /** package.json scripts. */
  scripts: Record<string, string>;
  /** Source files of the app (relative paths) that must reach the build: functions/ and shared/. */
  appSources: string[];
}

/**
 * Whether .funcignore fits the build mode azure.yaml asks for. Remote build: node_modules and
 * the local build's dist/ stay out, the sources, tsconfig.json and the lock file go in, and
 * `build:azure` prunes devDependencies after the build. Either mode: host.json and package.json
 * ship, no development folder does, nor local settings.
 */
export function checkPackageFitsBuildMode(shape: PackageShape): string[] {
  const problems: string[] = [];
  const rules = readIgnore(shape.funcignore);
  const remoteBuild = remoteBuildOf(shape.azureYaml);
  const azdError = azdRemoteBuildError(rules, remoteBuild);
  if (azdError) problems.push(`azd refuses to deploy: ${azdError}`);
  const mustShip = (path: string, why: string): void => {
    if (ignored(rules, path, false)) problems.push(`.funcignore leaves out ${path} (${why})`);
  };
  const mustNotShip = (path: string, isDirectory: boolean, why: string): void => {
    if (!ignored(rules, path, isDirectory)) problems.push(`.funcignore ships ${path}${isDirectory ? '/' : ''} (${why})`);
  };
  mustShip('host.json', 'the Functions host reads it');
  mustShip('package.json', 'its "main" lists the entry files');
  for (const folder of DEVELOPMENT_FOLDERS) mustNotShip(folder, true, 'a development folder');
  mustNotShip('local.settings.json', false, 'local settings');
  mustNotShip('local.settings.sample.json', false, 'local settings');
  if (remoteBuild === true) {
    mustShip('tsconfig.json', 'the remote `npm run build` compiles with it');
    mustShip('package-lock.json', 'the remote `npm install` installs the locked versions');
    for (const source of shape.appSources) mustShip(source, 'the remote build compiles it');
    mustNotShip('dist', true, 'the remote build compiles its own; a local dist/ would ship dist/local, dist/scripts, …');
    if (shape.scripts.build === undefined) problems.push('package.json has no build script for the remote build');
    if (shape.scripts['build:azure'] !== PRUNE_SCRIPT) {
      problems.push(
        `package.json "build:azure" is ${JSON.stringify(shape.scripts['build:azure'])}, expected "${PRUNE_SCRIPT}" (Oryx runs it after the build; without it devDependencies are deployed)`,
      );
    }
  } else {
    for (const folder of DEVELOPMENT_FOLDERS) mustNotShip(`dist/${folder}`, true, 'compiled development code');
    mustShip('dist/functions/health.js', 'the compiled entry files');
  }
  return problems;
}

/**
 * The top-level packages `npm prune --omit=dev` keeps, read from package-lock.json (lockfile v2/v3):
 * every `node_modules/<name>` entry not marked dev-only. Nested copies live inside their parent.
 */
export function productionPackages(packageLock: { packages?: Record<string, { dev?: boolean; link?: boolean }> }): string[] {
  return Object.entries(packageLock.packages ?? {})
    .filter(([path, entry]) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path) && !entry.dev && !entry.link)
    .map(([path]) => path.slice('node_modules/'.length))
    .sort();
}

/** Bare package name of an import specifier ('@azure/functions/x' → '@azure/functions'). */
export function packageName(specifier: string): string {
  return specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');
}

/** String-literal dynamic imports (`import('x')`) in a compiled file: loaded at run time, later than the entry files. */
export function dynamicImports(javascript: string): string[] {
  return [...javascript.matchAll(/\bimport\(\s*(['"])([^'"]+)\1\s*\)/g)].map((m) => m[2]!);
}

export const existsFolder = (path: string): boolean => existsSync(path) && statSync(path).isDirectory();
