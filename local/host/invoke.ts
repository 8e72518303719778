// Runs one invocation the way the Node.js worker does: an InvocationContext built from the
// binding metadata, pre/post invocation hooks, the handler, then queue output bindings flushed
// only when the invocation succeeded. Like the host, it fails an invocation that runs past
// functionTimeout, and fails every invocation in flight when the worker is recycled.
import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import type { EffectiveFunctionOptions } from '@azure/functions';
import type { FunctionsLibrary, RegisteredFunction, Registry } from './coreApi.js';
import { toLogLevel, type HostLogger } from './logger.js';
import { DEFAULT_CONNECTION, outputMessages, type QueueStorage } from './queueStorage.js';
import { resolveAppSettingExpressions, type QueueOptions } from './settings.js';

export interface InvokeOptions {
  /** Why it runs, for the "Executing" log line (e.g. "New queue message detected on 'x'"). */
  reason: string;
  triggerMetadata?: Record<string, unknown>;
}

/** Invocations in progress, so shutdown can wait for them. */
export class InFlight {
  private readonly pending = new Set<Promise<unknown>>();

  track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    promise.then(
      () => this.pending.delete(promise),
      () => this.pending.delete(promise),
    );
    return promise;
  }

  get size(): number {
    return this.pending.size;
  }

  /** Resolves true when everything finished, false when the timeout came first. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending.size > 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.pending]), new Promise((resolve) => (timer = setTimeout(resolve, remaining)))]);
      clearTimeout(timer);
    }
    return true;
  }
}

/** The runtime's FunctionTimeoutException, as the host reports it. */
export class FunctionTimeoutError extends Error {
  constructor(
    functionName: string,
    timeoutMs: number,
    readonly invocationId: string,
  ) {
    super(`Timeout value of ${formatTimeSpan(timeoutMs)} was exceeded by function: Functions.${functionName}`);
    this.name = 'FunctionTimeoutException';
  }
}

/** An invocation ended because its worker process was restarted (another invocation timed out, or shutdown). */
export class WorkerRestartedError extends Error {
  constructor(reason: string) {
    super(`The invocation was cancelled: ${reason}`);
    this.name = 'FunctionInvocationAbortedException';
  }
}

export interface InvokerOptions {
  /** host.json functionTimeout; null = none. */
  functionTimeoutMs?: number | null;
  /** Called once an invocation has run past functionTimeout (the host then recycles the worker). */
  onTimeout?: (error: FunctionTimeoutError) => void;
}

export class Invoker {
  /** Shared by appStart/appTerminate hooks, as in the worker. */
  readonly appHookData: Record<string, unknown> = {};
  /** Invocations in progress, each with a way to fail it now. */
  private readonly running = new Map<string, (error: Error) => void>();
  private recycled: Error | undefined;

  constructor(
    private readonly lib: FunctionsLibrary,
    private readonly registry: Registry,
    private readonly logger: HostLogger,
    private readonly queues: QueueStorage,
    private readonly queueOptions: QueueOptions,
    private readonly options: InvokerOptions = {},
  ) {}

  /**
   * Fails every invocation in flight, and any started later, with `error`: their callers (HTTP,
   * queue listener) complete them as failures. The code still running is ended by the process
   * exit that follows; until then its queue outputs are not sent.
   */
  abortAll(error: Error): void {
    this.recycled ??= error;
    for (const abort of this.running.values()) abort(error);
  }

  async invoke(fn: RegisteredFunction, input: unknown, options: InvokeOptions): Promise<unknown> {
    const functionName = fn.metadata.name;
    const invocationId = randomUUID();
    if (this.recycled) throw this.recycled;
    let abort!: (error: Error) => void;
    const aborted = new Promise<never>((_, reject) => (abort = reject));
    aborted.catch(() => undefined);
    let cancelled = false;
    this.running.set(invocationId, (error) => {
      cancelled = true;
      abort(error);
    });
    const timeoutMs = this.options.functionTimeoutMs;
    const timer =
      timeoutMs != null
        ? setTimeout(() => {
            const error = new FunctionTimeoutError(functionName, timeoutMs, invocationId);
            this.logger.log({
              level: 'error',
              category: 'host',
              functionName,
              invocationId,
              message: `Timeout value of ${formatTimeSpan(timeoutMs)} exceeded by function 'Functions.${functionName}' (Id: '${invocationId}'). Initiating cancellation.`,
            });
            cancelled = true;
            abort(error);
            this.options.onTimeout?.(error);
          }, timeoutMs)
        : undefined;
    try {
      return await Promise.race([this.execute(fn, input, options, invocationId, () => cancelled), aborted]);
    } catch (error) {
      if (cancelled) {
        this.logger.log({
          level: 'error',
          category: 'host',
          functionName,
          invocationId,
          message: `Executed 'Functions.${functionName}' (Failed, Id=${invocationId}) ${(error as Error).name}: ${(error as Error).message}`,
        });
      }
      throw error;
    } finally {
      clearTimeout(timer);
      this.running.delete(invocationId);
    }
  }

  private async execute(
    fn: RegisteredFunction,
    input: unknown,
    options: InvokeOptions,
    invocationId: string,
    cancelled: () => boolean,
  ): Promise<unknown> {
    const functionName = fn.metadata.name;
    const started = Date.now();
    const context = new this.lib.InvocationContext({
      invocationId,
      functionName,
      triggerMetadata: options.triggerMetadata,
      options: effectiveOptions(fn),
      logHandler: (level, ...args) => this.userLog(functionName, invocationId, level, args, context),
    });
    this.logger.log({
      level: 'information',
      category: 'host',
      functionName,
      invocationId,
      message: `Executing 'Functions.${functionName}' (Reason='${options.reason}', Id=${invocationId})`,
    });

    const hookData: Record<string, unknown> = {};
    let inputs: unknown[] = [input];
    let result: unknown;
    let error: unknown;
    let failed = false;
    try {
      const pre: Record<string, unknown> = {
        hookData,
        appHookData: this.appHookData,
        invocationContext: context,
        inputs,
        functionCallback: fn.handler,
      };
      for (const hook of [...this.registry.hooks.preInvocation]) await hook(pre);
      inputs = pre.inputs as unknown[];
      const handler = pre.functionCallback as RegisteredFunction['handler'];
      result = await handler(...inputs, context);
    } catch (caught) {
      failed = true;
      error = caught;
    }
    try {
      const post: Record<string, unknown> = {
        hookData,
        appHookData: this.appHookData,
        invocationContext: context,
        inputs,
        result,
        error,
      };
      for (const hook of [...this.registry.hooks.postInvocation]) await hook(post);
      result = post.result;
      // A postInvocation hook may replace or clear the error, as in the worker.
      if (post.error !== error) {
        error = post.error;
        failed = error !== undefined && error !== null;
      }
      // A cancelled invocation's outputs are never sent: the runtime drops a killed worker's results.
      if (!failed && !cancelled()) await this.flushQueueOutputs(fn, context, result);
    } catch (caught) {
      failed = true;
      error = caught;
    }

    const duration = Date.now() - started;
    // Already reported by invoke(); the caller has moved on.
    if (cancelled()) throw new WorkerRestartedError('the invocation had already ended');
    if (failed) {
      this.logger.log({
        level: 'error',
        category: 'host',
        functionName,
        invocationId,
        message: `Executed 'Functions.${functionName}' (Failed, Id=${invocationId}, Duration=${duration}ms) ${describeError(error)}`,
      });
      throw error instanceof Error ? error : new Error(describeError(error));
    }
    this.logger.log({
      level: 'information',
      category: 'host',
      functionName,
      invocationId,
      message: `Executed 'Functions.${functionName}' (Succeeded, Id=${invocationId}, Duration=${duration}ms)`,
    });
    return result;
  }

  /** Sends the values of queue output bindings (extraOutputs and the return value). */
  private async flushQueueOutputs(fn: RegisteredFunction, context: { extraOutputs: { get(name: string): unknown } }, result: unknown) {
    const sends: Promise<void>[] = [];
    for (const [name, binding] of Object.entries(fn.metadata.bindings)) {
      if (binding.direction !== 'out' || binding.type.toLowerCase() !== 'queue') continue;
      const value = name === '$return' ? result : context.extraOutputs.get(name);
      const texts = outputMessages(value, this.queueOptions.messageEncoding);
      if (texts.length === 0) continue;
      const queueName = resolveAppSettingExpressions(String(binding.queueName ?? ''));
      const connection = (binding.connection as string | undefined) || DEFAULT_CONNECTION;
      sends.push(this.queues.send(connection, queueName, texts));
    }
    await Promise.all(sends);
  }

  private userLog(functionName: string, invocationId: string, level: string, args: unknown[], context: unknown) {
    const entry = { level: toLogLevel(level), message: format(...args), category: 'user' };
    for (const hook of this.registry.hooks.log) {
      // A log hook may rewrite level and message, as in the worker.
      const hookContext: Record<string, unknown> = { ...entry, hookData: {}, invocationContext: context };
      try {
        hook(hookContext);
        entry.level = toLogLevel(String(hookContext.level));
        entry.message = String(hookContext.message);
      } catch {
        // A failing log hook must not fail the invocation.
      }
    }
    if (!this.logger.enabled(entry.level, functionName)) return;
    this.logger.log({ ...entry, functionName, invocationId });
  }
}

/** The `options` of InvocationContext, from binding metadata (what the library's fromRpcBindings builds). */
export function effectiveOptions(fn: RegisteredFunction) {
  let trigger: Record<string, unknown> | undefined;
  let returnBinding: Record<string, unknown> | undefined;
  const extraInputs: Record<string, unknown>[] = [];
  const extraOutputs: Record<string, unknown>[] = [];
  for (const [name, binding] of Object.entries(fn.metadata.bindings)) {
    const entry = { ...binding, name };
    if (binding.type.toLowerCase().endsWith('trigger')) trigger = entry;
    else if (name === '$return') returnBinding = entry;
    else if (binding.direction === 'in') extraInputs.push(entry);
    else if (binding.direction === 'out') extraOutputs.push(entry);
  }
  return { trigger, return: returnBinding, extraInputs, extraOutputs } as unknown as EffectiveFunctionOptions;
}

/** Milliseconds as a .NET TimeSpan ("00:10:00", "00:00:02.500"), as the runtime prints it. */
export function formatTimeSpan(ms: number): string {
  const pad = (n: number) => String(Math.floor(n)).padStart(2, '0');
  const fraction = ms % 1000 ? `.${String(ms % 1000).padStart(3, '0')}` : '';
  return `${pad(ms / 3_600_000)}:${pad((ms / 60_000) % 60)}:${pad((ms / 1000) % 60)}${fraction}`;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}
