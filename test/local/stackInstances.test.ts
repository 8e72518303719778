// The stack as the fault rows start it: N host instances and a short functionTimeout, one
// instance killed while the API keeps answering from the other.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { waitFor } from '../support/hostCli.js';

describe('stack with two host instances', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({ seedProfiles: 0, hostInstances: 2, functionTimeout: '00:00:05' });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('starts both on the same storage with the lowered functionTimeout, and keeps answering while one is killed and started again', async () => {
    const instances = await stack.hostInstances();
    expect(instances.map((i) => [i.instance, i.ready])).toEqual([
      [1, true],
      [2, true],
    ]);
    expect(new Set(instances.map((i) => i.pid)).size).toBe(2);
    expect(stack.logs.filter((line) => line.includes('functionTimeout: 00:00:05'))).toHaveLength(2);

    const killed = await stack.killHostInstance(1);
    expect(killed).toBe(instances[0]!.pid);
    for (let i = 0; i < 6; i++) expect((await fetch(`${stack.apiUrl}/health`)).status).toBe(200);
    const back = await waitFor(
      () => stack.hostInstances(),
      (now) => now[0]!.ready && now[0]!.restarts === 1,
      30_000,
    );
    expect(back[0]!.pid).not.toBe(killed);
    expect(back[1]!.pid).toBe(instances[1]!.pid);
  });

  it("starts every instance, and one started again, with the Node worker's heap cap (local/host/workerArguments.ts)", async () => {
    const args = (pid: number | undefined) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    for (const instance of await stack.hostInstances()) expect(args(instance.pid)).toContain('--max-old-space-size=1024');
  });
});
