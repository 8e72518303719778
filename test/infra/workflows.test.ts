// The deploy pipeline (.github/workflows/) is valid by GitHub's own workflow parser and keeps its
// promises: tests before deploying, signs in to Azure with OpenID Connect, and uses no stored secret.
// The parser is @actions/workflow-parser (https://github.com/actions/languageservices, the
// workflow-parser package: it bundles GitHub's workflow schema, workflow-v1.0.json, and is what
// the Actions editor tooling validates with).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const workflowsDir = join(root, '.github', 'workflows');
const workflowFiles = readdirSync(workflowsDir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();

/** What GitHub's parser reports for a workflow file: YAML and schema errors, then (if none) the
 *  errors of converting it to a workflow model (unknown `needs`, bad cron, and the like). */
const errorsOf = async (name: string, content: string): Promise<string[]> => {
  const parsed = parseWorkflow({ name, content }, new NoOperationTraceWriter());
  if (parsed.value !== undefined && parsed.context.errors.count === 0) await convertWorkflowTemplate(parsed.context, parsed.value);
  return parsed.context.errors.getErrors().map((e) => e.message);
};

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

  it.each(workflowFiles)("%s is valid by GitHub's workflow parser", async (file) => {
    expect(await errorsOf(file, read(file).text)).toEqual([]);
  });

  it.each(workflowFiles)('%s uses no stored secret (no secrets.* anywhere)', (file) => {
    expect(read(file).text).not.toMatch(/\bsecrets\./);
  });

  it('the parser rejects what GitHub rejects', async () => {
    const { workflow } = read('deploy.yml');
    const errorsOfCopy = async (change: (copy: Workflow & Record<string, unknown>) => void): Promise<string> => {
      const copy = structuredClone(workflow) as Workflow & Record<string, unknown>;
      change(copy);
      return (await errorsOf('deploy.yml', stringify(copy))).join('\n');
    };
    expect(await errorsOfCopy((w) => delete (w.jobs.test as Partial<Job> & { 'runs-on'?: string })['runs-on'])).toMatch(
      /Required property is missing: runs-on/,
    );
    expect(await errorsOfCopy((w) => (w.jobs.deploy!.permissions = { 'id-token': 'admin' }))).toMatch(/Unexpected value 'admin'/);
    expect(await errorsOfCopy((w) => (w.job = {}))).toMatch(/Unexpected value 'job'/);
    expect(await errorsOfCopy((w) => (w.jobs.deploy!.needs = 'tests'))).toMatch(/depends on unknown job 'tests'/);
    expect((await errorsOf('deploy.yml', 'on: [push\njobs: {}\n')).length).toBeGreaterThan(0);
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
    expect(runs).toMatch(
      /azd auth login --client-id "\$AZURE_CLIENT_ID" --federated-credential-provider github --tenant-id "\$AZURE_TENANT_ID"/,
    );
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
    const parameters = JSON.parse(readFileSync(join(root, 'infra', 'main.parameters.json'), 'utf8')).parameters as Record<
      string,
      { value: string }
    >;
    const required = Object.values(parameters)
      .map((p) => /^\$\{(\w+)\}$/.exec(p.value)?.[1])
      .filter((name): name is string => name !== undefined);
    const text = read('deploy.yml').text;
    for (const name of required) expect(text, name).toMatch(new RegExp(`\\b${name}: \\$\\{\\{ vars\\.${name} \\}\\}`));
  });
});
