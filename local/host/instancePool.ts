// N host instances on the same storage, like a scale-out: each a process of its own, started
// again when it exits (a function timeout recycles it; a crash kills it), stopped together.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RECYCLE_EXIT_CODE, type InstanceDraining, type InstanceInfo, type InstanceReady } from './instanceProtocol.js';
import { workerExecArgv } from './workerArguments.js';

const INSTANCE_SCRIPT = fileURLToPath(new URL('./instance.js', import.meta.url));

export interface InstancePoolOptions {
  count: number;
  /** Arguments for every instance (project, lease, public URL). */
  args: string[];
  log: (message: string) => void;
}

interface Instance {
  number: number;
  child?: ChildProcess;
  port?: number;
  restarts: number;
  everReady: boolean;
  /** Consecutive crashes, for the restart back-off. */
  crashes: number;
}

export class InstancePool {
  private readonly instances: Instance[];
  private stopping = false;
  private next = 0;
  private readyWaiters: (() => void)[] = [];
  private failStart: ((error: Error) => void) | undefined;

  constructor(private readonly options: InstancePoolOptions) {
    this.instances = Array.from({ length: options.count }, (_, index) => ({
      number: index + 1,
      restarts: 0,
      everReady: false,
      crashes: 0,
    }));
  }

  /** Starts every instance; resolves when all are ready, fails if one exits before it ever was. */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.failStart = reject;
      let pending = this.instances.length;
      for (const instance of this.instances) {
        this.spawn(instance, () => {
          if (--pending === 0) {
            this.failStart = undefined;
            resolve();
          }
        });
      }
    });
  }

  /** The next ready instance's port, round robin; waits up to `timeoutMs` while none is ready. */
  async pick(timeoutMs: number): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ready = this.instances.filter((instance) => instance.port !== undefined);
      if (ready.length > 0) return ready[this.next++ % ready.length]!.port;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.stopping) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.readyWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Forgets an instance's port at once (its connection failed), until it says it is ready again. */
  markUnreachable(port: number): void {
    for (const instance of this.instances) if (instance.port === port) instance.port = undefined;
  }

  info(): InstanceInfo[] {
    return this.instances.map((instance) => ({
      instance: instance.number,
      pid: instance.child?.exitCode === null && instance.child.signalCode === null ? instance.child.pid : undefined,
      port: instance.port,
      ready: instance.port !== undefined,
      restarts: instance.restarts,
    }));
  }

  /** SIGTERM to every instance (each finishes what it runs), then waits for all to exit. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.instances.map((instance) => stopInstance(instance.child)));
  }

  /** Kills every instance at once (a second Ctrl-C). */
  kill(): void {
    this.stopping = true;
    for (const instance of this.instances) instance.child?.kill('SIGKILL');
  }

  private spawn(instance: Instance, onFirstReady?: () => void): void {
    const label = this.options.count > 1 ? ['--instance', String(instance.number)] : [];
    // The supervisor's own Node.js arguments (e.g. --cpu-prof), then the worker's, as the Functions
    // host starts its Node worker (languageWorkers__node__arguments; a heap cap by default).
    const child = fork(INSTANCE_SCRIPT, [...this.options.args, ...label], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [...process.execArgv, ...workerExecArgv()],
    });
    instance.child = child;
    child.on('message', (message: InstanceReady | InstanceDraining) => {
      if (message?.type === 'draining') {
        // No new requests for it; those in progress finish or fail there.
        instance.port = undefined;
        return;
      }
      if (message?.type !== 'ready') return;
      instance.port = message.port;
      instance.crashes = 0;
      if (!instance.everReady) {
        instance.everReady = true;
        onFirstReady?.();
      }
      const waiters = this.readyWaiters;
      this.readyWaiters = [];
      waiters.forEach((wake) => wake());
    });
    child.once('exit', (code, signal) => {
      instance.port = undefined;
      if (instance.child === child) instance.child = undefined;
      if (this.stopping) return;
      if (!instance.everReady) {
        this.failStart?.(new Error(`Host instance ${instance.number} exited (${signal ?? code}) before it was ready.`));
        this.kill();
        return;
      }
      const recycled = code === RECYCLE_EXIT_CODE;
      if (!recycled) instance.crashes++;
      // A crash loop is slowed down; a recycle restarts at once, as the runtime restarts its worker.
      const delay = recycled ? 0 : Math.min(10_000, 500 * 2 ** Math.min(instance.crashes - 1, 5));
      const why = recycled ? 'recycled after a function timeout' : `exited (${signal ?? `code ${code}`})`;
      this.options.log(`Host instance ${instance.number} ${why}; starting it again${delay ? ` in ${delay} ms` : ''}.`);
      instance.restarts++;
      setTimeout(() => {
        if (!this.stopping) this.spawn(instance);
      }, delay);
    });
  }
}

function stopInstance(child: ChildProcess | undefined, graceMs = 40_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
