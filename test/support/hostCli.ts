// Runs the local Functions host's CLI (the supervisor and its instances) as a child process for a
// test, keeping its output and stopping it afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { stopChild } from '../../local/azurite.js';
import { freePort } from '../../local/freePort.js';
import type { InstanceInfo } from '../../local/host/instanceProtocol.js';
import { projectRoot } from '../../local/projectRoot.js';

export const HOST_CLI = join(projectRoot(), 'dist', 'local', 'host', 'cli.js');

export interface HostCli {
  child: ChildProcess;
  port: number;
  api: string;
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  instances(): Promise<InstanceInfo[]>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

export async function startHostCli(options: {
  projectDir: string;
  env: Record<string, string>;
  args?: string[];
  startTimeoutMs?: number;
  /** Started once the output matches this (default: once every instance says it is ready). */
  readyOutput?: RegExp;
  stopTimeoutMs?: number;
}): Promise<HostCli> {
  const port = await freePort();
  const child = spawn(process.execPath, [HOST_CLI, '--port', String(port), ...(options.args ?? [])], {
    cwd: options.projectDir,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const listeners = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (process.env.OUTFLOW_TEST_VERBOSE) process.stdout.write(chunk);
    listeners.forEach((listener) => listener());
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitForOutput = (pattern: RegExp, timeoutMs = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!pattern.test(output)) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`No ${pattern} in the host's output within ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  const api = `http://127.0.0.1:${port}/api`;
  const host: HostCli = {
    child,
    port,
    api,
    output: () => output,
    waitForOutput,
    async instances() {
      return (await (await fetch(`http://127.0.0.1:${port}/admin/host/instances`)).json()) as InstanceInfo[];
    },
    exited,
    stop: () => stopChild(child, options.stopTimeoutMs ?? 45_000),
  };
  const ready = options.readyOutput
    ? waitForOutput(options.readyOutput, options.startTimeoutMs ?? 30_000)
    : (async () => {
        const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
        for (;;) {
          const instances = await host.instances().catch(() => []);
          if (instances.length > 0 && instances.every((instance) => instance.ready)) return;
          if (Date.now() > deadline) throw new Error(`The host did not start:\n${output}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
  try {
    await Promise.race([
      ready,
      exited.then(({ code }) => Promise.reject(new Error(`The host exited (${code}) before starting:\n${output}`))),
    ]);
  } catch (error) {
    await host.stop();
    throw error;
  }
  return host;
}

/** Polls `read` until `done` holds, or fails after `timeoutMs`. */
export async function waitFor<T>(read: () => T | Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`Condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
