// Stands in for the module the real Functions worker provides. `@azure/functions` looks for
// `require('@azure/functions-core')` to decide whether it runs inside the runtime; answering that
// require makes plain app.http/app.timer/app.storageQueue calls hand us the same binding metadata
// and handlers the real runtime receives, with no change to function code.
import Module, { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as AzureFunctions from '@azure/functions';

export interface BindingMetadata {
  type: string;
  /** 'in' or 'out' (any string the runtime may add) */
  direction: string;
  name?: string;
  [key: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  bindings: Record<string, BindingMetadata>;
  retryOptions?: unknown;
}

export type Handler = (...args: unknown[]) => unknown;

export interface RegisteredFunction {
  metadata: FunctionMetadata;
  handler: Handler;
}

export type HookName = 'appStart' | 'appTerminate' | 'preInvocation' | 'postInvocation' | 'log';
export type HookCallback = (context: Record<string, unknown>) => unknown;

export interface Registry {
  functions: RegisteredFunction[];
  hooks: Record<HookName, HookCallback[]>;
  programmingModel?: unknown;
  /** Where system logs from the library go (set by the host once its logger exists). */
  systemLog: (level: string, category: string, message: string) => void;
}

const CORE_MODULE = '@azure/functions-core';

let installed: Registry | undefined;

/**
 * Answers `require('@azure/functions-core')` for the rest of this process and returns the
 * registry that collects registrations. One registry per process: the library caches the core
 * API the first time it asks for it.
 */
export function installCoreApi(): Registry {
  if (installed) return installed;
  const registry: Registry = {
    functions: [],
    hooks: { appStart: [], appTerminate: [], preInvocation: [], postInvocation: [], log: [] },
    systemLog: () => {},
  };
  const coreApi = {
    version: '4.0.0-local',
    hostVersion: '4.0.0-local',
    registerFunction(metadata: FunctionMetadata, handler: Handler) {
      if (registry.functions.some((f) => f.metadata.name.toLowerCase() === metadata.name.toLowerCase())) {
        throw new Error(`A function named "${metadata.name}" is already registered.`);
      }
      registry.functions.push({ metadata, handler });
      return { dispose() {} };
    },
    setProgrammingModel(model: unknown) {
      registry.programmingModel = model;
    },
    getProgrammingModel() {
      return registry.programmingModel;
    },
    registerHook(hookName: string, callback: HookCallback) {
      const list = registry.hooks[hookName as HookName];
      if (!list) throw new RangeError(`Unknown hook "${hookName}".`);
      list.push(callback);
      return {
        dispose() {
          const index = list.indexOf(callback);
          if (index >= 0) list.splice(index, 1);
        },
      };
    },
    log(level: string, category: string, message: string) {
      registry.systemLog(level, category, message);
    },
  };

  type Loader = {
    _load: (request: string, ...rest: unknown[]) => unknown;
    _resolveFilename: (request: string, ...rest: unknown[]) => string;
  };
  const loader = Module as unknown as Loader;
  const originalLoad = loader._load;
  const originalResolve = loader._resolveFilename;
  loader._load = function (this: unknown, request: string, ...rest: unknown[]) {
    if (request === CORE_MODULE) return coreApi;
    return originalLoad.call(this, request, ...rest);
  };
  loader._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
    if (request === CORE_MODULE) return CORE_MODULE;
    return originalResolve.call(this, request, ...rest);
  };
  installed = registry;
  return registry;
}

export type FunctionsLibrary = typeof AzureFunctions;

/**
 * The `@azure/functions` the app itself resolves, so the HttpRequest/HttpResponse/InvocationContext
 * classes the host creates are the ones the app's `instanceof` checks expect.
 */
export function loadFunctionsLibrary(projectDir: string): FunctionsLibrary {
  try {
    return createRequire(join(projectDir, 'package.json'))('@azure/functions') as FunctionsLibrary;
  } catch {
    return createRequire(import.meta.url)('@azure/functions') as FunctionsLibrary;
  }
}

/** The trigger binding of a registration (exactly one binding type ends with "Trigger"). */
export function triggerOf(fn: RegisteredFunction): BindingMetadata & { name: string } {
  for (const [name, binding] of Object.entries(fn.metadata.bindings)) {
    if (binding.type.toLowerCase().endsWith('trigger')) return { ...binding, name };
  }
  throw new Error(`Function "${fn.metadata.name}" has no trigger binding.`);
}
