// The deploy pipeline (.github/workflows/) is valid by the GitHub workflow JSON schema
// (SchemaStore's, vendored in test/infra/schemas/, see its README) and keeps its promises: tests
// before deploying, signs in to Azure with OpenID Connect, and uses no stored secret.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const workflowsDir = join(root, '.github', 'workflows');
const workflowFiles = readdirSync(workflowsDir).filter((f) => /\.ya?ml$/.test(f)).sort();
const schema = JSON.parse(readFileSync(join(root, 'test', 'infra', 'schemas', 'github-workflow.json'), 'utf8')) as object;
// strict: false — the schema uses draft-07 tuple forms and keywords beside $ref that Ajv's strict mode rejects.
const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);

const errorsOf = (workflow: unknown): string[] =>
  validate(workflow) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);

interface Step {
  uses?: string;
  run?: string;
}
interface Job {
  needs?: string | string[];
  permissions?: Record<string, string>;
  environment?: string | { name: string };
  steps: Step[];
}
interface Workflow {
  on: unknown;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const read = (file: string): { text: string; workflow: Workflow } => {
  const text = readFileSync(join(workflowsDir, file), 'utf8');
  return { text, workflow: parse(text) as Workflow };
};

describe('workflow files', () => {
  it('there is a deploy workflow', () => {
    expect(workflowFiles).toContain('deploy.yml');
  });

  it.each(workflowFiles)('%s is valid by the GitHub workflow schema', (file) => {
    expect(errorsOf(read(file).workflow)).toEqual([]);
  });

  it.each(workflowFiles)('%s uses no stored secret (no secrets.* anywhere)', (file) => {
    expect(read(file).text).not.toMatch(/\bsecrets\./);
  });

  it('the schema rejects what GitHub rejects', () => {
    const { workflow } = read('deploy.yml');
    const copy = (): Workflow => structuredClone(workflow);
    const noRunner = copy();
    delete (noRunner.jobs.test as Partial<Job> & { 'runs-on'?: string })['runs-on'];
    expect(errorsOf(noRunner).join()).toMatch(/runs-on/);
    const badPermission = copy();
    badPermission.jobs.deploy!.permissions = { 'id-token': 'admin' };
    expect(errorsOf(badPermission).length).toBeGreaterThan(0);
    const unknownKey = copy() as Workflow & { job?: unknown };
    unknownKey.job = {};
    expect(errorsOf(unknownKey).join()).toMatch(/additional properties/);
    const noSteps = copy();
    noSteps.jobs.deploy!.steps = [];
    expect(errorsOf(noSteps).length).toBeGreaterThan(0);
  });
});

describe('deploy.yml', () => {
  const { workflow } = read('deploy.yml');
  const deploy = workflow.jobs.deploy!;
  const runs = deploy.steps.map((s) => s.run ?? '').join('\n');

  it('runs the tests, and deploys only after they pass', () => {
    expect(workflow.jobs.test!.steps.some((s) => /\.ci\/run|npm test/.test(s.run ?? ''))).toBe(true);
    expect([deploy.needs].flat()).toContain('test');
  });

  it('signs in with OpenID Connect: id-token for the deploy job only, azd with a federated credential', () => {
    expect(workflow.permissions).toEqual({ contents: 'read' });
    expect(deploy.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    expect(workflow.jobs.test!.permissions).toBeUndefined();
    expect(runs).toMatch(/azd auth login --client-id "\$AZURE_CLIENT_ID" --federated-credential-provider github --tenant-id "\$AZURE_TENANT_ID"/);
    expect(runs).not.toMatch(/--client-secret|--client-certificate/);
  });

  it('provisions and deploys with azd, in a protected environment', () => {
    expect(deploy.environment).toBe('production');
    expect(deploy.steps.some((s) => s.uses?.startsWith('Azure/setup-azd@'))).toBe(true);
    expect(runs).toMatch(/azd provision --no-prompt/);
    expect(runs).toMatch(/azd deploy --no-prompt/);
    expect(runs.indexOf('azd provision')).toBeLessThan(runs.indexOf('azd deploy'));
  });

  it('passes every required main.bicep parameter through an azd environment value', () => {
    const parameters = JSON.parse(readFileSync(join(root, 'infra', 'main.parameters.json'), 'utf8')).parameters as Record<string, { value: string }>;
    const required = Object.values(parameters)
      .map((p) => /^\$\{(\w+)\}$/.exec(p.value)?.[1])
      .filter((name): name is string => name !== undefined);
    const text = read('deploy.yml').text;
    for (const name of required) expect(text, name).toMatch(new RegExp(`\\b${name}: \\$\\{\\{ vars\\.${name} \\}\\}`));
  });
});
