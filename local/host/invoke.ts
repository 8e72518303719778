// Runs one invocation the way the Node.js worker does: an InvocationContext built from the
// binding metadata, pre/post invocation hooks, the handler, then queue output bindings flushed
// only when the invocation succeeded.
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
      await Promise.race([
        Promise.allSettled([...this.pending]),
        new Promise((resolve) => (timer = setTimeout(resolve, remaining))),
      ]);
      clearTimeout(timer);
    }
    return true;
  }
}

export class Invoker {
  /** Shared by appStart/appTerminate hooks, as in the worker. */
  readonly appHookData: Record<string, unknown> = {};

  constructor(
    private readonly lib: FunctionsLibrary,
    private readonly registry: Registry,
    private readonly logger: HostLogger,
    private readonly queues: QueueStorage,
    private readonly queueOptions: QueueOptions,
  ) {}

  async invoke(fn: RegisteredFunction, input: unknown, options: InvokeOptions): Promise<unknown> {
    const functionName = fn.metadata.name;
    const invocationId = randomUUID();
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
      if (!failed) await this.flushQueueOutputs(fn, context, result);
    } catch (caught) {
      failed = true;
      error = caught;
    }

    const duration = Date.now() - started;
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

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}
