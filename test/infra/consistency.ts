// Checks that keep infra/ in step with the code: settings, storage names, roles, runtime, host.json,
// secrets. Plain functions of text (and of the code's own registries), so the tests can run them on
// the real files and on mutated copies.
import {
  callArguments,
  closeOf,
  firstSignificant,
  parseBicep,
  rangeText,
  resolveStrings,
  tokenize,
  valueAtPath,
  valueOfKey,
  type BicepFile,
  type Declaration,
  type Range,
} from './bicepReader.js';

const typeOf = (d: Declaration): string => (d.typeOrPath ?? '').split('@')[0]!;

function resources(file: BicepFile, type: string): Declaration[] {
  return file.declarations.filter((d) => d.kind === 'resource' && typeOf(d) === type);
}

function bodyValue(file: BicepFile, d: Declaration, path: string[]): Range | undefined {
  return d.bodyOpen === undefined ? undefined : valueAtPath(file.tokens, d.bodyOpen, path);
}

function single(values: string[] | undefined): string | undefined {
  return values && values.length === 1 ? values[0] : undefined;
}

// ---------------------------------------------------------------------------------------------
// App settings.

/**
 * The function app's app settings: name → value expression, read from the
 * `Microsoft.Web/sites/config` resource named 'appsettings' (its `properties`, following vars,
 * union() and ternaries; every object literal's keys count).
 */
export function appSettings(bicepText: string): Map<string, string> {
  const file = parseBicep(bicepText);
  const settings = new Map<string, string>();
  for (const config of resources(file, 'Microsoft.Web/sites/config')) {
    const name = bodyValue(file, config, ['name']);
    if (!name || single(resolveStrings(file, name)) !== 'appsettings') continue;
    const properties = bodyValue(file, config, ['properties']);
    if (properties) collectSettings(file, properties, settings, new Set());
  }
  return settings;
}

function collectSettings(file: BicepFile, range: Range, out: Map<string, string>, seen: Set<string>): void {
  const { tokens } = file;
  for (let i = range.start; i < range.end; i++) {
    const t = tokens[i]!;
    if (t.text === '{' && t.kind === 'punct') {
      const close = closeOf(tokens, i);
      let depth = 0;
      for (let k = i + 1; k < close; k++) {
        const u = tokens[k]!;
        if (u.kind === 'punct' && ['{', '[', '('].includes(u.text)) depth++;
        else if (u.kind === 'punct' && ['}', ']', ')'].includes(u.text)) depth--;
        else if (depth === 0 && tokens[k + 1]?.text === ':' && (u.kind === 'ident' || u.kind === 'string')) {
          const prev = tokens[k - 1]!;
          if (!(prev.kind === 'newline' || prev.text === '{' || prev.text === ',')) continue;
          const key = u.kind === 'ident' ? u.text : u.value;
          const value = valueOfKey(tokens, i, key ?? '');
          if (key !== undefined) out.set(key, value ? rangeText(tokens, value) : '');
        }
      }
      i = close;
    } else if (t.kind === 'ident' && !seen.has(t.text) && tokens[i - 1]?.text !== '.') {
      const d = file.declarations.find((x) => x.name === t.text && x.kind === 'var');
      if (d?.value) collectSettings(file, d.value, out, new Set([...seen, t.text]));
    }
  }
}

export interface SettingSpecLike {
  description?: string;
  localOnly?: boolean;
}

/** Setting names listed in the "Optional settings" section of infra/README.md (first `code` cell of each table row). */
export function optionalSettingsFromReadme(markdown: string): Set<string> {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^#{1,6}\s+Optional settings\b/i.test(l));
  const names = new Set<string>();
  if (start < 0) return names;
  const level = /^(#+)/.exec(lines[start]!)![1]!.length;
  for (const line of lines.slice(start + 1)) {
    const heading = /^(#+)\s/.exec(line);
    if (heading && heading[1]!.length <= level) break;
    const row = /^\|\s*`([^`]+)`/.exec(line);
    if (row) names.add(row[1]!);
  }
  return names;
}

/**
 * Every setting the code reads that is not local-only must be set in the function app's app
 * settings or listed as optional in the README; local-only ones must never be set in Azure; the
 * README must not list settings the code does not declare.
 */
export function checkSettingsCovered(
  settings: Record<string, SettingSpecLike>,
  appSettingNames: Set<string>,
  optionalNames: Set<string>,
): string[] {
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(settings)) {
    if (spec.localOnly) {
      if (appSettingNames.has(name)) problems.push(`${name} is local-only (shared/settings.ts) but infra sets it in Azure`);
      continue;
    }
    if (!appSettingNames.has(name) && !optionalNames.has(name)) {
      problems.push(
        `${name} (shared/settings.ts) is neither set in the function app's app settings (infra/functionApp.bicep) nor listed under "Optional settings" in infra/README.md`,
      );
    }
  }
  for (const name of optionalNames) {
    if (!(name in settings)) problems.push(`infra/README.md lists optional setting ${name}, which shared/settings.ts does not declare`);
  }
  return problems;
}

/** App settings that are neither in SETTINGS nor read by the platform (host, Azure Monitor). */
export function checkAppSettingsKnown(
  appSettingNames: Set<string>,
  settings: Record<string, SettingSpecLike>,
  platformSettings: ReadonlySet<string>,
  awaitingSettings: ReadonlySet<string>,
): string[] {
  return [...appSettingNames]
    .filter((name) => !(name in settings) && !platformSettings.has(name) && !awaitingSettings.has(name))
    .map((name) => `app setting ${name} is set in infra but neither declared in shared/settings.ts nor a platform setting`);
}

// ---------------------------------------------------------------------------------------------
// Secrets.

const SECRET_TEXT = [/AccountKey=/i, /DefaultEndpointsProtocol/i, /SharedAccessSignature=/i, /SharedAccessKey=/i];
const SECRET_SETTING_NAME = /(^|_)(ACCOUNT_?KEY|ACCESS_?KEY|SECRET|PASSWORD|SAS_?TOKEN)(_|$)|ConnectionString$|_CONNECTION_STRING$/i;
const ALLOWED_SETTING_NAMES = new Set(['APPLICATIONINSIGHTS_CONNECTION_STRING']);

/**
 * No keys or connection strings: no list*() calls (listKeys, listAccountSas, …) anywhere, no
 * connection-string or key text in string literals, no @secure() inputs, and no app setting that
 * by its name holds a credential (AzureWebJobsStorage itself is the connection-string form).
 */
export function checkNoSecrets(files: Record<string, string>, settings: Map<string, string>): string[] {
  const problems: string[] = [];
  for (const [path, text] of Object.entries(files)) {
    const { tokens } = tokenize(text);
    const visit = (list: typeof tokens): void => {
      list.forEach((t, i) => {
        if (t.kind === 'ident' && /^list[A-Z]?\w*$/.test(t.text) && list[i + 1]?.text === '(') {
          problems.push(`${path}:${t.line}: ${t.text}() reads keys or secrets`);
        }
        if (t.kind === 'ident' && t.text === 'secure' && list[i - 1]?.text === '@') {
          problems.push(`${path}:${t.line}: @secure() input: the infra takes no secrets`);
        }
        if (t.kind === 'string') {
          const pattern = SECRET_TEXT.find((p) => p.test(t.text));
          if (pattern) problems.push(`${path}:${t.line}: string holds a key or connection string (${pattern.source})`);
        }
        for (const part of t.parts ?? []) visit(part);
      });
    };
    visit(tokens);
  }
  for (const [name, value] of settings) {
    if (name === 'AzureWebJobsStorage' || name === 'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING') {
      problems.push(`app setting ${name} is the connection-string form; use the identity-based AzureWebJobsStorage__* settings`);
    } else if (SECRET_SETTING_NAME.test(name) && !ALLOWED_SETTING_NAMES.has(name)) {
      problems.push(`app setting ${name} looks like a credential`);
    }
    if (/\blist[A-Z]?\w*\s*\(/.test(value) || SECRET_TEXT.some((p) => p.test(value))) {
      problems.push(`app setting ${name} holds a key or connection string: ${value}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Storage names.

export interface StorageNames {
  queues: Set<string>;
  tables: Set<string>;
  containers: Set<string>;
}

const CHILD_TYPES: Record<keyof StorageNames, string> = {
  queues: 'Microsoft.Storage/storageAccounts/queueServices/queues',
  tables: 'Microsoft.Storage/storageAccounts/tableServices/tables',
  containers: 'Microsoft.Storage/storageAccounts/blobServices/containers',
};

/** Queues, tables and containers a Bicep file creates (literal names, loops over literal lists, param defaults). */
export function createdStorageNames(bicepText: string): StorageNames {
  const file = parseBicep(bicepText);
  const result: StorageNames = { queues: new Set(), tables: new Set(), containers: new Set() };
  for (const [kind, type] of Object.entries(CHILD_TYPES) as [keyof StorageNames, string][]) {
    for (const resource of resources(file, type)) {
      const name = bodyValue(file, resource, ['name']);
      if (!name) continue;
      const nameText = rangeText(file.tokens, name);
      const names =
        resource.loopVariable !== undefined && nameText === resource.loopVariable && resource.loopSource
          ? resolveStrings(file, resource.loopSource)
          : resolveStrings(file, name);
      for (const n of names ?? []) result[kind].add(n);
    }
  }
  return result;
}

/** Every queue (and its -poison queue), table and container of names.ts must be created. */
export function checkStorageNames(expected: { queues: string[]; tables: string[]; containers: string[] }, created: StorageNames): string[] {
  const problems: string[] = [];
  for (const queue of expected.queues) {
    if (!created.queues.has(queue)) problems.push(`queue ${queue} (shared/storage/names.ts) is not created in infra/storage.bicep`);
    if (!created.queues.has(`${queue}-poison`)) problems.push(`poison queue ${queue}-poison is not created in infra/storage.bicep`);
  }
  for (const table of expected.tables) {
    if (!created.tables.has(table)) problems.push(`table ${table} (shared/storage/names.ts) is not created in infra/storage.bicep`);
  }
  for (const container of expected.containers) {
    if (!created.containers.has(container))
      problems.push(`container ${container} (shared/storage/names.ts) is not created in infra/storage.bicep`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Role assignments.

export interface RoleAssignment {
  symbol: string;
  line: number;
  scopeSymbol?: string;
  /** Resource type of the scope (without API version). */
  scopeType?: string;
  roleDefinitionId?: string;
  /** Source text of the role reference inside roleDefinitionId (e.g. `roles . storageBlobDataOwner`). */
  roleReference?: string;
  /** The key when the role is referenced as `<var>.<key>`. */
  roleKey?: string;
  principal?: string;
  principalType?: string;
  /** Source text of each argument of guid(…) in the name, when the name is a guid() call. */
  nameArguments?: string[];
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function roleAssignments(bicepText: string): RoleAssignment[] {
  const file = parseBicep(bicepText);
  const { tokens } = file;
  return resources(file, 'Microsoft.Authorization/roleAssignments').map((d) => {
    const assignment: RoleAssignment = { symbol: d.name, line: d.line };
    const scope = bodyValue(file, d, ['scope']);
    if (scope) {
      assignment.scopeSymbol = rangeText(tokens, scope);
      const target = file.declarations.find((x) => x.name === assignment.scopeSymbol && x.kind === 'resource');
      if (target) assignment.scopeType = typeOf(target);
    }
    const role = bodyValue(file, d, ['properties', 'roleDefinitionId']);
    if (role) {
      const first = firstSignificant(tokens, role);
      let reference: Range = role;
      if (first !== undefined && /^(subscriptionResourceId|resourceId|tenantResourceId)$/.test(tokens[first]!.text)) {
        const args = callArguments(tokens, first);
        if (args.length > 0) reference = args[args.length - 1]!;
      }
      assignment.roleReference = rangeText(tokens, reference);
      const keyMatch = /^\w+ \. (\w+)$/.exec(assignment.roleReference);
      if (keyMatch) assignment.roleKey = keyMatch[1];
      const resolved = single(resolveStrings(file, reference));
      if (resolved && GUID.test(resolved)) assignment.roleDefinitionId = resolved.toLowerCase();
    }
    const principal = bodyValue(file, d, ['properties', 'principalId']);
    if (principal) assignment.principal = rangeText(tokens, principal);
    const principalType = bodyValue(file, d, ['properties', 'principalType']);
    if (principalType) assignment.principalType = single(resolveStrings(file, principalType));
    const name = bodyValue(file, d, ['name']);
    if (name) {
      const first = firstSignificant(tokens, name);
      if (first !== undefined && tokens[first]!.text === 'guid') {
        assignment.nameArguments = callArguments(tokens, first).map((arg) => rangeText(tokens, arg));
      }
    }
    return assignment;
  });
}

/** Each assignment is named guid(scope.id, principal, role), names a known role, and targets a service principal. */
export function checkRoleAssignmentShape(bicepText: string): string[] {
  const problems: string[] = [];
  for (const a of roleAssignments(bicepText)) {
    const where = `role assignment '${a.symbol}' (line ${a.line})`;
    if (!a.scopeSymbol || !a.scopeType) problems.push(`${where}: scope is not a resource declared in the file`);
    if (!a.roleDefinitionId) problems.push(`${where}: roleDefinitionId does not resolve to a role definition GUID`);
    if (a.principalType !== 'ServicePrincipal') problems.push(`${where}: principalType must be 'ServicePrincipal' (a managed identity)`);
    const expected = [`${a.scopeSymbol} . id`, a.principal, a.roleReference];
    if (!a.nameArguments) {
      problems.push(`${where}: name is not guid(scope.id, principalId, roleDefinitionId)`);
    } else if (a.nameArguments.length !== 3 || a.nameArguments.some((arg, i) => arg !== expected[i])) {
      problems.push(`${where}: name is guid(${a.nameArguments.join(', ')}), expected guid(${expected.join(', ')})`);
    }
  }
  return problems;
}

export interface RequiredRole {
  /** Infra file (relative to infra/) that must hold the assignment. */
  file: string;
  role: string;
  scopeType: string;
  why: string;
}

const camelCase = (roleName: string): string =>
  roleName
    .split(/\s+/)
    .map((w, i) => (i === 0 ? w.toLowerCase() : w[0]!.toUpperCase() + w.slice(1)))
    .join('');

/**
 * Every required role is assigned in its file at a scope of the right type, and no other role is
 * assigned anywhere (the identity gets what it needs and no more). roleTable maps built-in role
 * names to their definition GUIDs.
 */
export function checkRequiredRoles(files: Record<string, string>, required: RequiredRole[], roleTable: Record<string, string>): string[] {
  const problems: string[] = [];
  const byFile = new Map(Object.entries(files).map(([path, text]) => [path, roleAssignments(text)]));
  const nameOf = new Map(Object.entries(roleTable).map(([name, id]) => [id.toLowerCase(), name]));
  for (const need of required) {
    const id = roleTable[need.role]?.toLowerCase();
    if (!id) {
      problems.push(`role ${need.role} is not in the role table`);
      continue;
    }
    const found = (byFile.get(need.file) ?? []).some((a) => a.roleDefinitionId === id && a.scopeType === need.scopeType);
    if (!found) problems.push(`${need.role} on ${need.scopeType} is not assigned in infra/${need.file} (${need.why})`);
  }
  for (const [path, assignments] of byFile) {
    for (const a of assignments) {
      const name = a.roleDefinitionId ? nameOf.get(a.roleDefinitionId) : undefined;
      const wanted = required.some(
        (r) => r.file === path && roleTable[r.role]?.toLowerCase() === a.roleDefinitionId && r.scopeType === a.scopeType,
      );
      if (!wanted)
        problems.push(
          `infra/${path}: '${a.symbol}' assigns ${name ?? a.roleDefinitionId ?? 'an unknown role'} on ${a.scopeType ?? '?'}, which the app does not need`,
        );
      if (name && a.roleKey && a.roleKey !== camelCase(name)) {
        problems.push(`infra/${path}: '${a.symbol}' references ${a.roleKey} but the GUID is ${name} (${camelCase(name)})`);
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Hosting: Flex Consumption and the Node.js runtime.

/** Node.js majors the Flex Consumption plan offers. */
export const FLEX_NODE_VERSIONS = ['20', '22'];

export function functionAppRuntime(bicepText: string): { name?: string; version?: string } {
  const file = parseBicep(bicepText);
  const site = resources(file, 'Microsoft.Web/sites')[0];
  if (!site) return {};
  const name = bodyValue(file, site, ['properties', 'functionAppConfig', 'runtime', 'name']);
  const version = bodyValue(file, site, ['properties', 'functionAppConfig', 'runtime', 'version']);
  return {
    name: name ? single(resolveStrings(file, name)) : undefined,
    version: version ? single(resolveStrings(file, version)) : undefined,
  };
}

/** The plan is FC1 / FlexConsumption on Linux; the runtime is a Flex Node.js version that satisfies engines.node. */
export function checkHosting(bicepText: string, enginesNode: string): string[] {
  const problems: string[] = [];
  const file = parseBicep(bicepText);
  const plan = resources(file, 'Microsoft.Web/serverfarms')[0];
  const value = (d: Declaration | undefined, path: string[]): string | undefined => {
    const range = d ? bodyValue(file, d, path) : undefined;
    if (!range) return undefined;
    return single(resolveStrings(file, range)) ?? rangeText(file.tokens, range);
  };
  if (!plan) problems.push('no Microsoft.Web/serverfarms plan');
  else {
    if (value(plan, ['sku', 'name']) !== 'FC1') problems.push(`plan sku name is ${value(plan, ['sku', 'name'])}, expected FC1`);
    if (value(plan, ['sku', 'tier']) !== 'FlexConsumption')
      problems.push(`plan sku tier is ${value(plan, ['sku', 'tier'])}, expected FlexConsumption`);
    if (value(plan, ['properties', 'reserved']) !== 'true') problems.push('plan is not Linux (properties.reserved: true)');
  }
  const site = resources(file, 'Microsoft.Web/sites')[0];
  if (!site) problems.push('no Microsoft.Web/sites function app');
  else {
    if (value(site, ['kind']) !== 'functionapp,linux')
      problems.push(`function app kind is ${value(site, ['kind'])}, expected functionapp,linux`);
    if (value(site, ['properties', 'functionAppConfig', 'deployment', 'storage', 'authentication', 'type']) !== 'UserAssignedIdentity') {
      problems.push('deployment storage is not reached with the user-assigned identity');
    }
  }
  const runtime = functionAppRuntime(bicepText);
  if (runtime.name !== 'node') problems.push(`runtime name is ${runtime.name}, expected node`);
  if (runtime.version === undefined) problems.push('runtime version does not resolve to a literal');
  else {
    if (!FLEX_NODE_VERSIONS.includes(runtime.version))
      problems.push(`Node ${runtime.version} is not offered on Flex Consumption (${FLEX_NODE_VERSIONS.join(', ')})`);
    if (!majorSatisfies(runtime.version, enginesNode))
      problems.push(`Node ${runtime.version} does not satisfy package.json engines.node "${enginesNode}"`);
  }
  return problems;
}

/**
 * The Node worker's heap cap: the app settings pass `--max-old-space-size` in
 * languageWorkers__node__arguments, a var that is instanceMemoryMB divided by a whole number, and
 * for every instance size main.bicep allows it equals what the local host uses (`heapFor`);
 * main.bicep's default size is the local host's (`defaultMb`).
 */
export function checkNodeWorkerHeap(
  functionAppText: string,
  mainText: string,
  heapFor: (instanceMemoryMB: number) => number,
  defaultMb: number,
): string[] {
  const problems: string[] = [];
  const value = appSettings(functionAppText).get('languageWorkers__node__arguments');
  if (value === undefined) return ["app setting languageWorkers__node__arguments (the Node worker's heap cap) is not set"];
  const variable = /--max-old-space-size=\$\{\s*(\w+)\s*\}/.exec(
    functionAppText.slice(functionAppText.indexOf('languageWorkers__node__arguments')),
  )?.[1];
  if (!variable) return [`languageWorkers__node__arguments does not pass --max-old-space-size=\${...} (${value})`];
  const divisor = new RegExp(`^var ${variable} = instanceMemoryMB / (\\d+)\\s*$`, 'm').exec(functionAppText)?.[1];
  if (!divisor) return [`var ${variable} is not instanceMemoryMB / <whole number>`];
  const allowed = /@allowed\(\[([^\]]*)\]\)\s*param instanceMemoryMB int/.exec(mainText)?.[1] ?? '';
  const sizes = allowed.split(/\s+/).filter(Boolean).map(Number);
  if (sizes.length === 0) problems.push('main.bicep does not list the allowed instanceMemoryMB values');
  for (const size of sizes) {
    const azure = size / Number(divisor);
    if (azure !== heapFor(size))
      problems.push(`instance ${size} MB: infra caps the Node heap at ${azure} MB, the local host at ${heapFor(size)} MB`);
  }
  const defaultSize = Number(/param instanceMemoryMB int = (\d+)/.exec(mainText)?.[1]);
  if (defaultSize !== defaultMb)
    problems.push(`main.bicep's default instanceMemoryMB is ${defaultSize}, the local host assumes ${defaultMb}`);
  return problems;
}

type Version = [number, number, number];

const compare = (a: Version, b: Version): number => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** Parses "20", "20.1", "20.1.2", "20.x" into the version and how many parts were given. */
function partial(text: string): { version: Version; parts: number } | undefined {
  const m = /^v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?$/.exec(text);
  if (!m) return undefined;
  const raw = [m[1], m[2], m[3]];
  const given = raw.filter((p) => p !== undefined && p !== 'x' && p !== '*') as string[];
  const version = [0, 0, 0].map((_, i) => (given[i] === undefined ? 0 : Number(given[i]))) as Version;
  return { version, parts: given.length };
}

function bump(v: Version, parts: number): Version {
  if (parts <= 1) return [v[0] + 1, 0, 0];
  if (parts === 2) return [v[0], v[1] + 1, 0];
  return [v[0], v[1], v[2] + 1];
}

/** Whether a semver range (>=, >, <=, <, =, ^, ~, x-ranges, hyphen-free, || and spaces) accepts the version. */
export function satisfies(version: Version, range: string): boolean {
  return range.split('||').some((set) => {
    const comparators = set
      .trim()
      .replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1')
      .split(/\s+/)
      .filter(Boolean);
    if (comparators.length === 0) return true;
    return comparators.every((c) => {
      if (c === '*' || c === 'x') return true;
      const m = /^(>=|<=|>|<|=|\^|~)?(.*)$/.exec(c)!;
      const op = m[1] ?? '=';
      const p = partial(m[2]!);
      if (!p) return false;
      const low = p.version;
      const high = bump(low, p.parts);
      switch (op) {
        case '>=':
          return compare(version, low) >= 0;
        case '>':
          return compare(version, high) >= 0;
        case '<':
          return compare(version, low) < 0;
        case '<=':
          return compare(version, high) < 0;
        case '^':
          return compare(version, low) >= 0 && compare(version, low[0] > 0 ? [low[0] + 1, 0, 0] : bump(low, p.parts)) < 0;
        case '~':
          return compare(version, low) >= 0 && compare(version, bump(low, Math.min(p.parts, 2))) < 0;
        default:
          return compare(version, low) >= 0 && compare(version, high) < 0;
      }
    });
  });
}

/** Whether the newest release of a Node.js major (what Azure runs for it) satisfies the range. */
export function majorSatisfies(major: string, range: string): boolean {
  if (!/^\d+$/.test(major)) return false;
  return satisfies([Number(major), 9999, 9999], range);
}

// ---------------------------------------------------------------------------------------------
// host.json.

const TIMESPAN = /^(\d+\.)?\d{1,2}:\d{2}:\d{2}(\.\d+)?$/;

function seconds(timespan: string): number {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(timespan)!;
  return Number(m[1] ?? 0) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

/** host.json valid for Functions v4 on Flex Consumption with the queue fan-out the app relies on. */
export function checkHostJson(host: unknown): string[] {
  const problems: string[] = [];
  const h = (host ?? {}) as Record<string, any>;
  if (h.version !== '2.0') problems.push(`version is ${JSON.stringify(h.version)}, expected "2.0"`);
  const bundle = h.extensionBundle ?? {};
  if (bundle.id !== 'Microsoft.Azure.Functions.ExtensionBundle') problems.push(`extensionBundle.id is ${JSON.stringify(bundle.id)}`);
  if (bundle.version !== '[4.*, 5.0.0)')
    problems.push(
      `extensionBundle.version is ${JSON.stringify(bundle.version)}, expected "[4.*, 5.0.0)" (Flex Consumption needs bundle 4)`,
    );
  const queues = h.extensions?.queues;
  if (!queues) problems.push('extensions.queues is missing (the fan-out relies on its batch settings)');
  else {
    const int = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
    if (!int(queues.batchSize) || queues.batchSize < 1 || queues.batchSize > 32)
      problems.push(`queues.batchSize is ${queues.batchSize}, must be 1..32`);
    if (
      !int(queues.newBatchThreshold) ||
      queues.newBatchThreshold < 0 ||
      (int(queues.batchSize) && queues.newBatchThreshold > queues.batchSize)
    ) {
      problems.push(`queues.newBatchThreshold is ${queues.newBatchThreshold}, must be 0..batchSize`);
    }
    if (!['base64', 'none'].includes(queues.messageEncoding))
      problems.push(`queues.messageEncoding is ${JSON.stringify(queues.messageEncoding)}, must be "base64" or "none"`);
    if (!int(queues.maxDequeueCount) || queues.maxDequeueCount < 1)
      problems.push(`queues.maxDequeueCount is ${queues.maxDequeueCount}, must be >= 1`);
    for (const key of ['visibilityTimeout', 'maxPollingInterval']) {
      if (queues[key] !== undefined && (typeof queues[key] !== 'string' || !TIMESPAN.test(queues[key])))
        problems.push(`queues.${key} is not a TimeSpan (hh:mm:ss)`);
    }
    if (
      typeof queues.maxPollingInterval === 'string' &&
      TIMESPAN.test(queues.maxPollingInterval) &&
      seconds(queues.maxPollingInterval) < 0.1
    ) {
      problems.push('queues.maxPollingInterval is below the 100 ms minimum');
    }
  }
  if (h.extensions?.http?.routePrefix !== 'api')
    problems.push(`http.routePrefix is ${JSON.stringify(h.extensions?.http?.routePrefix)}, the API contract lives under /api`);
  if (h.functionTimeout !== undefined && (typeof h.functionTimeout !== 'string' || !TIMESPAN.test(h.functionTimeout))) {
    problems.push('functionTimeout is not a TimeSpan (hh:mm:ss)');
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// azd wiring.

/** main.parameters.json names only params main.bicep declares, and gives every required one. */
export function checkParametersFile(mainBicep: string, parametersJson: string): string[] {
  const problems: string[] = [];
  const file = parseBicep(mainBicep);
  const params = file.declarations.filter((d) => d.kind === 'param');
  let given: Record<string, { value?: unknown }>;
  try {
    given = (JSON.parse(parametersJson) as { parameters?: Record<string, { value?: unknown }> }).parameters ?? {};
  } catch (error) {
    return [`main.parameters.json is not JSON: ${(error as Error).message}`];
  }
  for (const name of Object.keys(given)) {
    if (!params.some((p) => p.name === name)) problems.push(`main.parameters.json sets ${name}, which main.bicep does not declare`);
  }
  for (const p of params) {
    if (!p.optional && !(p.name in given)) problems.push(`main.bicep param ${p.name} is required but main.parameters.json does not set it`);
  }
  return problems;
}

/** azure.yaml deploys this folder as a Functions service from the Bicep in infra/. */
export function checkAzureYaml(text: string): string[] {
  const problems: string[] = [];
  const lines = text.split('\n').map((l) => l.replace(/\s+#.*$/, ''));
  const value = (key: string): string | undefined => {
    const line = lines.find((l) => new RegExp(`^\\s*${key}:\\s*\\S`).test(l));
    return line
      ?.split(':')
      .slice(1)
      .join(':')
      .trim()
      .replace(/^['"]|['"]$/g, '');
  };
  if (!/^services:\s*$/m.test(text)) problems.push('azure.yaml has no services');
  if (value('host') !== 'function') problems.push(`service host is ${value('host')}, expected function`);
  if (!['ts', 'js', 'typescript', 'javascript'].includes(value('language') ?? ''))
    problems.push(`service language is ${value('language')}, expected ts`);
  if (!['.', './'].includes(value('project') ?? ''))
    problems.push(`service project is ${value('project')}, expected . (the repository root holds host.json and package.json)`);
  const infraPath = value('path');
  if (infraPath !== undefined && infraPath.replace(/^\.\//, '').replace(/\/$/, '') !== 'infra')
    problems.push(`infra path is ${infraPath}, expected infra`);
  const provider = value('provider');
  if (provider !== undefined && provider !== 'bicep') problems.push(`infra provider is ${provider}, expected bicep`);
  return problems;
}

/**
 * The roles go to the app's user-assigned identity: every module given here receives
 * principalId = <identity module>.outputs.principalId, and the function app runs as that identity.
 */
export function checkRolesGoToIdentity(mainBicep: string, roleModulePaths: string[], functionAppPath: string): string[] {
  const problems: string[] = [];
  const file = parseBicep(mainBicep);
  const modules = file.declarations.filter((d) => d.kind === 'module');
  const identity = modules.find((m) => m.typeOrPath === 'identity.bicep');
  if (!identity) return ['main.bicep has no identity.bicep module'];
  const param = (module: Declaration, name: string): string | undefined => {
    const params = module.bodyOpen === undefined ? undefined : valueOfKey(file.tokens, module.bodyOpen, 'params');
    const open = params ? firstSignificant(file.tokens, params) : undefined;
    const value = open === undefined ? undefined : valueOfKey(file.tokens, open, name);
    return value ? rangeText(file.tokens, value) : undefined;
  };
  for (const path of roleModulePaths) {
    const module = modules.find((m) => m.typeOrPath === path);
    if (!module) {
      problems.push(`main.bicep does not use ${path}`);
      continue;
    }
    const given = param(module, 'principalId');
    if (given !== `${identity.name} . outputs . principalId`)
      problems.push(`${path} gets principalId ${given}, not the user-assigned identity's`);
  }
  const app = modules.find((m) => m.typeOrPath === functionAppPath);
  if (!app) problems.push(`main.bicep does not use ${functionAppPath}`);
  else {
    if (param(app, 'identityId') !== `${identity.name} . outputs . id`)
      problems.push('the function app does not run as the user-assigned identity');
    if (param(app, 'identityClientId') !== `${identity.name} . outputs . clientId`)
      problems.push("the function app is not given the identity's client id");
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Security review items (infra/README.md, "What a security review finds"). Each names what is
// missing; the templates are read, not compiled (see bicepReader.ts).

function valueText(file: BicepFile, d: Declaration, path: string[]): string | undefined {
  const range = bodyValue(file, d, path);
  if (!range) return undefined;
  return single(resolveStrings(file, range)) ?? rangeText(file.tokens, range);
}

/** The templates the security checks read, by file name in infra/. */
export type InfraFiles = Record<string, string>;

const parsed = (files: InfraFiles, name: string): BicepFile => parseBicep(files[name] ?? '');

/** Basic-auth publishing (SCM and FTP) is off on the function app. */
export function checkBasicAuthOff(files: InfraFiles): string[] {
  const file = parsed(files, 'functionApp.bicep');
  const policies = resources(file, 'Microsoft.Web/sites/basicPublishingCredentialsPolicies');
  return ['scm', 'ftp'].flatMap((name) => {
    const policy = policies.find((d) => valueText(file, d, ['name']) === name);
    if (!policy)
      return [`functionApp.bicep: no basicPublishingCredentialsPolicies '${name}' (basic-auth ${name.toUpperCase()} publishing stays on)`];
    return valueText(file, policy, ['properties', 'allow']) === 'false'
      ? []
      : [`functionApp.bicep: basicPublishingCredentialsPolicies '${name}' does not set allow: false`];
  });
}

/** Diagnostic settings scoped to each resource of the given types send the given log categories to a workspace. */
function checkDiagnostics(files: InfraFiles, fileName: string, scopeTypes: string[], categories: string[]): string[] {
  const file = parsed(files, fileName);
  const settings = resources(file, 'Microsoft.Insights/diagnosticSettings');
  const problems: string[] = [];
  for (const type of scopeTypes) {
    const targets = resources(file, type).filter((d) => !d.existing || type === 'Microsoft.KeyVault/vaults');
    if (targets.length === 0) problems.push(`${fileName}: no ${type} to send diagnostics from`);
    for (const target of targets) {
      const setting = settings.find((d) => valueText(file, d, ['scope']) === target.name);
      if (!setting) {
        problems.push(`${fileName}: ${type} '${target.name}' sends no diagnostic logs to Log Analytics`);
        continue;
      }
      if (!bodyValue(file, setting, ['properties', 'workspaceId']))
        problems.push(`${fileName}: diagnostic setting '${setting.name}' has no workspaceId`);
      const logs = bodyValue(file, setting, ['properties', 'logs']);
      const logsText = logs ? rangeText(file.tokens, logs) : '';
      const logsSource = /^\w+$/.test(logsText) ? (file.declarations.find((d) => d.name === logsText)?.value ?? logs) : logs;
      const text = logsSource ? rangeText(file.tokens, logsSource) : '';
      for (const category of categories) {
        if (!text.includes(`'${category}'`)) problems.push(`${fileName}: diagnostic setting '${setting.name}' does not log ${category}`);
      }
    }
  }
  return problems;
}

export function checkAuditLogs(files: InfraFiles): string[] {
  const storageServices = ['blobServices', 'queueServices', 'tableServices'].map((s) => `Microsoft.Storage/storageAccounts/${s}`);
  return [
    ...checkDiagnostics(files, 'keyVault.bicep', ['Microsoft.KeyVault/vaults'], ['AuditEvent']),
    ...checkDiagnostics(files, 'storage.bicep', storageServices, ['StorageWrite', 'StorageDelete']),
    ...checkDiagnostics(files, 'lakeStorage.bicep', ['Microsoft.Storage/storageAccounts/blobServices'], ['StorageWrite', 'StorageDelete']),
  ];
}

/** Deleted blobs and deleted containers can be restored in both storage accounts. */
export function checkSoftDelete(files: InfraFiles): string[] {
  return ['storage.bicep', 'lakeStorage.bicep'].flatMap((name) => {
    const file = parsed(files, name);
    const service = resources(file, 'Microsoft.Storage/storageAccounts/blobServices')[0];
    if (!service) return [`${name}: no blob service`];
    return ['deleteRetentionPolicy', 'containerDeleteRetentionPolicy']
      .filter((policy) => valueText(file, service, ['properties', policy, 'enabled']) !== 'true')
      .map((policy) => `${name}: blob service ${policy} is not enabled`);
  });
}

/**
 * vnetEnabled: main.bicep declares it (off by default) and hands it to every module that holds
 * data; storage and Key Vault turn public network access off with it; network.bicep delegates the
 * app subnet to Flex Consumption and puts private endpoints in front of blob, queue, table and
 * vault; the function app joins the subnet.
 */
export function checkVnetOption(files: InfraFiles): string[] {
  const problems: string[] = [];
  const main = parsed(files, 'main.bicep');
  const param = main.declarations.find((d) => d.kind === 'param' && d.name === 'vnetEnabled');
  if (!param) return ['main.bicep: no vnetEnabled parameter'];
  if (!param.value || rangeText(main.tokens, param.value) !== 'false')
    problems.push('main.bicep: vnetEnabled is not off by default (opt-in)');
  const modules = main.declarations.filter((d) => d.kind === 'module');
  for (const path of ['storage.bicep', 'lakeStorage.bicep', 'keyVault.bicep']) {
    const module = modules.find((m) => m.typeOrPath === path);
    const params = module?.bodyOpen === undefined ? undefined : valueOfKey(main.tokens, module.bodyOpen, 'params');
    const open = params ? firstSignificant(main.tokens, params) : undefined;
    const given = open === undefined ? undefined : valueOfKey(main.tokens, open, 'vnetEnabled');
    if (!given || rangeText(main.tokens, given) !== 'vnetEnabled') problems.push(`main.bicep: ${path} is not given vnetEnabled`);
    const file = parsed(files, path);
    const target = [...resources(file, 'Microsoft.Storage/storageAccounts'), ...resources(file, 'Microsoft.KeyVault/vaults')].find(
      (d) => !d.existing,
    );
    const access = target ? valueText(file, target, ['properties', 'publicNetworkAccess']) : undefined;
    if (!access || !/^vnetEnabled \? 'Disabled' : 'Enabled'$/.test(access))
      problems.push(`${path}: publicNetworkAccess is not 'Disabled' with vnetEnabled`);
  }
  const network = modules.find((m) => m.typeOrPath === 'network.bicep');
  if (!network?.value || !/^if \( vnetEnabled \)/.test(rangeText(main.tokens, network.value)))
    problems.push('main.bicep: network.bicep is not deployed if (vnetEnabled)');
  const app = modules.find((m) => m.typeOrPath === 'functionApp.bicep');
  const appParams = app?.bodyOpen === undefined ? undefined : valueOfKey(main.tokens, app.bodyOpen, 'params');
  const appOpen = appParams ? firstSignificant(main.tokens, appParams) : undefined;
  const subnet = appOpen === undefined ? undefined : valueOfKey(main.tokens, appOpen, 'virtualNetworkSubnetId');
  if (!subnet || !rangeText(main.tokens, subnet).includes('network . outputs . appSubnetId'))
    problems.push("main.bicep: the function app does not join the network's app subnet");
  const site = resources(parsed(files, 'functionApp.bicep'), 'Microsoft.Web/sites')[0];
  if (!site || !bodyValue(parsed(files, 'functionApp.bicep'), site, ['properties', 'virtualNetworkSubnetId']))
    problems.push('functionApp.bicep: the site does not set virtualNetworkSubnetId');
  const networkText = files['network.bicep'] ?? '';
  if (!/serviceName: 'Microsoft\.App\/environments'/.test(networkText))
    problems.push('network.bicep: no subnet delegated to Microsoft.App/environments (Flex Consumption VNet integration)');
  const networkFile = parsed(files, 'network.bicep');
  const groups = new Set<string>();
  for (const endpoint of resources(networkFile, 'Microsoft.Network/privateEndpoints')) {
    const connections = bodyValue(networkFile, endpoint, ['properties', 'privateLinkServiceConnections']);
    const text = connections ? rangeText(networkFile.tokens, connections) : '';
    for (const m of text.matchAll(/groupIds : \[ ([^\]]*) \]/g)) {
      const inner = m[1]!.trim();
      // `[for (service, i) in list: …]` endpoints name their group by the loop variable.
      const loop = /^\w+$/.test(inner) && endpoint.loopSource ? resolveStrings(networkFile, endpoint.loopSource) : undefined;
      for (const g of loop ?? [...inner.matchAll(/'([^']+)'/g)].map((x) => x[1]!)) groups.add(g);
    }
  }
  for (const group of ['blob', 'queue', 'table', 'vault']) {
    if (!groups.has(group)) problems.push(`network.bicep: no private endpoint for ${group}`);
  }
  return problems;
}

/** location is limited (@allowed) to regions that offer Flex Consumption. */
export function checkLocationAllowed(mainText: string): string[] {
  const m = /@allowed\(\[([^\]]*)\]\)\s*(?:@[^\n]*\n(?:[^\n]*\n)*?)?\s*param location string/.exec(mainText);
  if (!m) return ['main.bicep: param location has no @allowed list of Flex Consumption regions'];
  const regions = [...m[1]!.matchAll(/'([^']+)'/g)].map((x) => x[1]!);
  const bad = regions.filter((r) => !/^[a-z0-9]+$/.test(r));
  return [
    ...(regions.length === 0 ? ['main.bicep: the @allowed list of location is empty'] : []),
    ...bad.map((r) => `main.bicep: '${r}' is not a region name`),
  ];
}

/**
 * The app cannot write or delete the lake: it is never a container of the app storage account
 * (where the app is Storage Blob Data Owner), and the function app reads it from the lake
 * account (LAKE_BLOB_SERVICE_URI always set). The roles checks keep the identity at Storage Blob
 * Data Reader on the lake account.
 */
export function checkLakeReadOnly(files: InfraFiles, lakeContainer: string): string[] {
  const problems: string[] = [];
  if (createdStorageNames(files['storage.bicep'] ?? '').containers.has(lakeContainer))
    problems.push(
      `storage.bicep creates the lake container '${lakeContainer}' in the app storage account, where the app may write and delete`,
    );
  if (/\bcreateLakeContainer\b/.test(files['storage.bicep'] ?? ''))
    problems.push('storage.bicep can still create the lake container (createLakeContainer)');
  if (!createdStorageNames(files['lakeStorage.bicep'] ?? '').containers.size) problems.push('lakeStorage.bicep creates no lake container');
  const main = files['main.bicep'] ?? '';
  if (!/var lakeBlobServiceUri = 'https:\/\/\$\{lakeAccountName\}/.test(main))
    problems.push('main.bicep: LAKE_BLOB_SERVICE_URI does not always point at the lake account');
  return problems;
}

export interface AlertNames {
  /** Metric names of shared/observability/metrics.ts. */
  runDuration: string;
  queueBacklog: string;
  /** The chunk queue (names.ts). */
  chunkQueue: string;
  /** Functions triggered by the poison queues (one invocation per poison message). */
  poisonFunctions: string[];
}

/** monitoring.bicep has the three alert rules, each querying names the code emits. */
export function checkAlertRules(monitoringText: string, names: AlertNames): string[] {
  const file = parseBicep(monitoringText);
  const rules = resources(file, 'Microsoft.Insights/scheduledQueryRules').map((d) => ({
    name: d.name,
    query: (() => {
      const criteria = bodyValue(file, d, ['properties', 'criteria']);
      return criteria ? rangeText(file.tokens, criteria) : '';
    })(),
  }));
  const problems: string[] = [];
  const has = (label: string, test: (query: string) => boolean): void => {
    if (!rules.some((rule) => test(rule.query))) problems.push(`monitoring.bicep: no alert rule for ${label}`);
  };
  has(`failed runs (${names.runDuration} with status 'failed')`, (q) => q.includes(`'${names.runDuration}'`) && q.includes("== 'failed'"));
  has(`a poison message (${names.poisonFunctions.join(', ')} invocations)`, (q) =>
    names.poisonFunctions.every((fn) => q.includes(`'${fn}'`)),
  );
  has(
    `a growing chunk backlog (${names.queueBacklog} of ${names.chunkQueue})`,
    (q) => q.includes(`'${names.queueBacklog}'`) && q.includes(`'${names.chunkQueue}'`) && q.includes('prev('),
  );
  return problems;
}
