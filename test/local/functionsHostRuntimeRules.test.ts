// The local host keeps the Functions runtime's rules that Outflow must survive in Azure, each
// checked against the host itself (CLI, instances and Azurite as in `npm start`):
// functionTimeout recycles the worker with everything in flight on it; queue messages are held
// while their function runs and come back after a crash; timers fire once per occurrence across
// instances and report missed occurrences with isPastDue; N instances share the storage.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../local/azurite.js';
import { projectRoot } from '../../local/projectRoot.js';
import { startHostCli, waitFor, type HostCli } from '../support/hostCli.js';

const FIXTURE = join(projectRoot(), 'test', 'fixtures', 'runtimeApp');

interface Entry {
  fn: string;
  id?: string;
  phase?: 'start' | 'done';
  dequeueCount?: number;
  nextVisibleTime?: string;
  insertionTime?: string;
  isPastDue?: boolean;
  pid: number;
  at: number;
}

describe('local host: the runtime rules', () => {
  let azurite: RunningAzurite;
  let dir: string;
  let host: HostCli | undefined;
  let testNumber = 0;
  let recordFile: string;
  let queueName: string;
  let hostId: string;

  const records = (): Entry[] =>
    existsSync(recordFile)
      ? readFileSync(recordFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as Entry)
      : [];
  const base64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
  const queue = (name = queueName) => new QueueClient(azurite.connectionString, name);
  const send = async (message: unknown) => {
    await queue().createIfNotExists();
    await queue().sendMessage(base64(message));
  };
  /** A host on its own queue, record file and host id, so tests never see each other's work. */
  const start = async (env: Record<string, string> = {}, args: string[] = []) => {
    testNumber++;
    recordFile = join(dir, `records-${testNumber}.jsonl`);
    queueName = `rules-${testNumber}`;
    hostId = `rules-test-${testNumber}`;
    host = await startHostCli({
      projectDir: FIXTURE,
      args,
      env: {
        AzureWebJobsStorage: azurite.connectionString,
        RULES_RECORD_FILE: recordFile,
        RULES_QUEUE: queueName,
        AzureFunctionsWebHost__hostid: hostId,
        ...env,
      },
    });
    return host;
  };

  beforeAll(async () => {
    azurite = await startAzurite();
    dir = mkdtempSync(join(tmpdir(), 'outflow-host-rules-'));
  });

  afterEach(async () => {
    await host?.stop();
    host = undefined;
  });

  afterAll(async () => {
    await azurite?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('functionTimeout (overridden by AzureFunctionsJobHost__functionTimeout): the invocation fails, the worker is recycled with everything in flight on it, its message (held 10 minutes while it ran) comes back with a higher dequeue count', async () => {
    const { api } = await start({ AzureFunctionsJobHost__functionTimeout: '00:00:02' });
    expect(host!.output()).toContain('functionTimeout: 00:00:02');

    // A queue invocation that would run a minute; on its retry, 100 ms.
    await send({ id: 'long', ms: 60_000, msOnRetry: 100 });
    const [first] = await waitFor(
      () => records().filter((e) => e.fn === 'work' && e.id === 'long'),
      (r) => r.length > 0,
    );
    const firstPid = first!.pid;
    // Held as the runtime holds it: 10 minutes (renewed at half-time; WebJobs SDK QueueListener).
    const hold = Date.parse(first!.nextVisibleTime!) - first!.at;
    expect(hold).toBeGreaterThan(590_000);
    expect(hold).toBeLessThan(610_000);
    // A bystander HTTP call on the same worker that would answer 200 after the timeout: it gets an error.
    const bystander = fetch(`${api}/sleep?id=bystander&ms=3000`).then(async (r) => ({ status: r.status, body: await r.text() }));
    const answered = await bystander;
    expect(answered.status).toBe(500);
    expect(answered.body).not.toBe('late');

    await host!.waitForOutput(/Timeout value of 00:00:02 exceeded by function 'Functions\.work'/);
    await host!.waitForOutput(/Restarting worker process/);
    await host!.waitForOutput(/Host instance 1 recycled after a function timeout; starting it again/);

    // Back after visibilityTimeout on the restarted worker, with its dequeue count raised; it succeeds.
    const retried = await waitFor(records, (r) => r.some((e) => e.id === 'long' && e.phase === 'done'), 20_000);
    const starts = retried.filter((e) => e.id === 'long' && e.phase === 'start');
    expect(starts.map((e) => e.dequeueCount)).toEqual([1, 2]);
    expect(starts[1]!.pid).not.toBe(firstPid);
    // Nothing of the killed invocations ran on: no 'done' of the first try, none of the bystander.
    expect(retried.filter((e) => e.phase === 'done').map((e) => `${e.id}@${e.dequeueCount ?? ''}`)).toEqual(['long@2']);
    // Only the successful try's output message was sent.
    const after = await waitFor(
      // The output queue exists once the first output is sent.
      async () =>
        (
          await queue(`${queueName}-after`)
            .peekMessages({ numberOfMessages: 32 })
            .catch(() => ({ peekedMessageItems: [] }))
        ).peekedMessageItems,
      (items) => items.length > 0,
    );
    expect(after.map((m) => JSON.parse(Buffer.from(m.messageText, 'base64').toString()))).toEqual([{ id: 'long', dequeueCount: 2 }]);

    // An HTTP invocation past the timeout: its caller gets 500 at the timeout, not a late 200.
    const started = Date.now();
    const response = await fetch(`${api}/sleep?id=slowHttp&ms=5000`);
    expect(response.status).toBe(500);
    expect(Date.now() - started).toBeLessThan(4_500);
    expect(records().some((e) => e.id === 'slowHttp' && e.phase === 'done')).toBe(false);
  });

  it('renews the hold on a message while its function runs, and hands it back after a crash with a higher dequeue count', async () => {
    await start({ OUTFLOW_QUEUE_LEASE_SECONDS: '2' });
    // A 2 s hold renewed while the function runs 4 s: never delivered twice meanwhile.
    await send({ id: 'renewed', ms: 4_000 });
    await waitFor(records, (r) => r.some((e) => e.id === 'renewed' && e.phase === 'done'), 15_000);
    expect(records().filter((e) => e.id === 'renewed' && e.phase === 'start')).toHaveLength(1);

    // The instance dies mid-run: the message comes back once its hold runs out, dequeue count 2.
    await send({ id: 'crashed', ms: 60_000, msOnRetry: 0 });
    await waitFor(records, (r) => r.some((e) => e.id === 'crashed'));
    const [instance] = await host!.instances();
    process.kill(instance!.pid!, 'SIGKILL');
    const done = await waitFor(records, (r) => r.some((e) => e.id === 'crashed' && e.phase === 'done'), 20_000);
    const attempts = done.filter((e) => e.id === 'crashed' && e.phase === 'start');
    expect(attempts.map((e) => e.dequeueCount)).toEqual([1, 2]);
    expect(attempts[1]!.pid).not.toBe(instance!.pid);
    await host!.waitForOutput(/Host instance 1 exited \(SIGKILL\); starting it again/);
  });

  it('fires a timer once with isPastDue when its recorded next occurrence was missed (status blob in azure-webjobs-hosts)', async () => {
    const hostsContainer = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('azure-webjobs-hosts');
    await hostsContainer.createIfNotExists();
    const nextTestHostId = `rules-test-${testNumber + 1}`;
    const status = hostsContainer.getBlockBlobClient(`timers/${nextTestHostId}/Host.Functions.hourly/status`);
    const missed = new Date(Date.now() - 3600_000);
    const text = JSON.stringify({
      Last: new Date(missed.getTime() - 3600_000).toISOString(),
      Next: missed.toISOString(),
      LastUpdated: missed.toISOString(),
    });
    await status.upload(text, text.length);

    await start();
    expect(hostId).toBe(nextTestHostId);
    const hourly = await waitFor(
      () => records().filter((e) => e.fn === 'hourly'),
      (r) => r.length > 0,
    );
    expect(hourly).toMatchObject([{ isPastDue: true }]);
    // Recorded: the next occurrence is in the future now, so a restart would not fire it again.
    const recorded = await waitFor(
      async () => JSON.parse((await status.downloadToBuffer()).toString()) as { Next: string },
      (value) => Date.parse(value.Next) > Date.now(),
    );
    expect(Date.parse(recorded.Next)).toBeLessThanOrEqual(Date.now() + 3600_000);
    const ticks = await waitFor(
      () => records().filter((e) => e.fn === 'everySecond'),
      (r) => r.length >= 2,
    );
    expect(ticks.every((tick) => tick.isPastDue === false)).toBe(true);
    await host!.stop();
    host = undefined;
    // Started again at once, nothing was missed: no second past-due run.
    await startAgainWithSameHostId();
    await waitFor(
      () => records().filter((e) => e.fn === 'everySecond'),
      (r) => r.length >= 2,
    );
    expect(records().filter((e) => e.fn === 'hourly')).toHaveLength(1);

    async function startAgainWithSameHostId() {
      host = await startHostCli({
        projectDir: FIXTURE,
        env: {
          AzureWebJobsStorage: azurite.connectionString,
          RULES_RECORD_FILE: recordFile,
          RULES_QUEUE: queueName,
          AzureFunctionsWebHost__hostid: hostId,
        },
      });
    }
  });

  it('OUTFLOW_HOST_INSTANCES=2: two processes share the port round robin and the queues; a timer fires once per occurrence, on the instance holding its listener lock', async () => {
    const { api } = await start({ OUTFLOW_HOST_INSTANCES: '2' });
    const instances = await host!.instances();
    expect(instances).toHaveLength(2);
    expect(new Set(instances.map((i) => i.pid)).size).toBe(2);
    const pids = new Set<number>();
    for (let i = 0; i < 6; i++) pids.add(((await (await fetch(`${api}/whoami`)).json()) as { pid: number }).pid);
    expect([...pids].sort()).toEqual(instances.map((i) => i.pid).sort());

    // Every message handled once, whichever instance takes it.
    for (let i = 0; i < 12; i++) await send({ id: `m${i}`, ms: 200 });
    const handled = await waitFor(
      () => records().filter((e) => e.fn === 'work' && e.phase === 'done'),
      (r) => r.length >= 12,
      20_000,
    );
    expect(handled.map((e) => e.id).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `m${i}`).sort());

    // One firing per second across both instances, all on the lock holder.
    const ticks = await waitFor(
      () => records().filter((e) => e.fn === 'everySecond'),
      (r) => r.length >= 4,
    );
    expect(new Set(ticks.map((t) => t.pid)).size).toBe(1);
    const seconds = ticks.map((t) => Math.round(t.at / 1000));
    expect(new Set(seconds).size).toBe(seconds.length);

    // The holder stops: the other instance takes the lock over (recovery polling: 1 s) and fires on.
    const holder = ticks[0]!.pid;
    process.kill(holder, 'SIGTERM');
    await waitFor(
      () => records().filter((e) => e.fn === 'everySecond' && e.pid !== holder),
      (r) => r.length >= 2,
      15_000,
    );

    // The supervisor killed outright (a test's killHost): no instance outlives it.
    const running = (await host!.instances()).map((i) => i.pid).filter((pid): pid is number => pid !== undefined);
    host!.child.kill('SIGKILL');
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor(
      () => running.filter(alive),
      (left) => left.length === 0,
      5_000,
    );
  });

  // The runtime's queue output binding tells the listeners of its own host that it added a message
  // (WebJobs storage extension: QueueAsyncCollector.AddAsync → IMessageEnqueuedWatcher.Notify →
  // SharedQueueWatcher → QueueListener.Notify ends the back-off wait); a message sent any other way
  // waits for the next poll. maxPollingInterval is raised to 10 s here so the difference shows:
  // the local listener backs off 0.1, 0.2, 0.4 … 6.4, then 10 s between empty polls.
  const backedOff = { AzureFunctionsJobHost__extensions__queues__maxPollingInterval: '00:00:10' };
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const enqueue = async (api: string, id: string, via: 'binding' | 'sdk') => {
    const response = await fetch(`${api}/enqueue?id=${id}&via=${via}`, { method: 'POST' });
    expect(response.status).toBe(200);
    return (await response.json()) as { pid: number; at: number };
  };
  const pickedUp = async (id: string) =>
    (
      await waitFor(
        () => records().filter((e) => e.fn === 'work' && e.id === id && e.phase === 'start'),
        (r) => r.length > 0,
        20_000,
      )
    )[0]!;

  it('a message added by a queue output binding wakes the backed-off listener of its own instance at once; one sent with the SDK waits for the next poll', async () => {
    const { api } = await start(backedOff);
    // 7 s idle: the listener is in its 6.4 s wait (from 6.3 s to 12.7 s after it started).
    await sleep(7_000);
    const bound = await enqueue(api, 'bound', 'binding');
    const boundTaken = await pickedUp('bound');
    expect(boundTaken.at - bound.at).toBeLessThan(1_500);

    // The pick-up restarted the back-off: 8.5 s later the listener is again in its 6.4 s wait, and
    // an SDK send is not heard: it is picked up by the poll that ends that wait, about 4 s later.
    await sleep(boundTaken.at + 8_500 - Date.now());
    const sent = await enqueue(api, 'sent', 'sdk');
    const sentTaken = await pickedUp('sent');
    expect(sentTaken.at - sent.at).toBeGreaterThan(2_000);
    expect(sentTaken.at - sent.at).toBeLessThan(11_000);
  });

  it('OUTFLOW_HOST_INSTANCES=2: an output binding wakes only the listener of the instance that ran the function', async () => {
    const { api } = await start({ ...backedOff, OUTFLOW_HOST_INSTANCES: '2' });
    const instances = await host!.instances();
    const served = new Set<number>();
    for (const id of ['first', 'second']) {
      // Both listeners backed off (the one that took the last message has backed off again).
      await sleep(7_000);
      const bound = await enqueue(api, id, 'binding');
      served.add(bound.pid);
      const taken = await pickedUp(id);
      // Taken at once, and by the instance whose binding added it: the other was not woken.
      expect(taken.at - bound.at).toBeLessThan(1_500);
      expect(taken.pid).toBe(bound.pid);
    }
    // Round robin: each instance ran the function once.
    expect([...served].sort()).toEqual(instances.map((i) => i.pid).sort());
  });

  it("keeps an idle client connection open as the platform's load balancer does, not for Node's 5 s", async () => {
    // A caller that reuses its connection after a few idle seconds is answered: with the server
    // closing it at 5 s, a request sent as it closes got no answer at all ("fetch failed").
    const { port } = await start();
    const { connect } = await import('node:net');
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    let received = '';
    let closed = false;
    socket.on('data', (data: Buffer) => (received += data.toString('latin1')));
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    const ask = () => socket.write('GET /api/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    // The whole first response (its last chunk too) before the idle wait, so what is read after
    // it is the second response only.
    const answered = (text: string) => /^HTTP\/1\.1 \d{3}/.test(text) && text.endsWith('\r\n0\r\n\r\n');
    ask();
    await waitFor(() => received, answered, 10_000);
    expect(received).toMatch(/keep-alive: timeout=240/i);
    received = '';
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(closed, 'the connection is still open after 6 idle seconds').toBe(false);
    ask();
    await waitFor(() => received, answered, 10_000);
    socket.destroy();
  });

  it('keeps the platform HTTP request limits at the front door (100 MB body, 4 KB URL)', async () => {
    const { api, port } = await start();
    expect((await fetch(`${api}/whoami?pad=${'x'.repeat(5000)}`)).status).toBe(414);
    const status = await new Promise<number>((resolve, reject) => {
      import('node:http').then(({ request }) => {
        const req = request(
          { host: '127.0.0.1', port, method: 'POST', path: '/api/whoami', headers: { 'content-length': String(101 * 1024 * 1024) } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.write('x');
      }, reject);
    });
    expect(status).toBe(413);
  });
});
