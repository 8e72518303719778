// The Node.js arguments each host instance is started with, as the Functions host starts its
// Node worker: `languageWorkers__node__arguments` (an app setting in Azure, the environment or
// local.settings.json here). Without it, the V8 old space is capped as infra/functionApp.bicep
// caps it in Azure for the default instance size, so every run, test and benchmark sees the heap
// limit the worker has there (BENCHMARKS.md, "Pipeline cost against the bare floor").

/** The setting the Functions host reads the Node worker's arguments from. */
export const WORKER_ARGUMENTS_SETTING = 'languageWorkers__node__arguments';

/** Flex Consumption's default instance memory (infra/main.bicep `instanceMemoryMB`). */
export const DEFAULT_INSTANCE_MEMORY_MB = 2048;

/**
 * The Node worker's V8 old space for an instance size: half of it, what V8 itself picks for a
 * machine of that memory (a quarter times two on 64-bit, Heap::HeapSizeFromPhysicalMemory; Node
 * passes it the cgroup limit or the machine's memory). The machine here is larger than an
 * instance, so it is set. infra/functionApp.bicep sets the same; test/infra checks both agree.
 */
export function workerHeapMb(instanceMemoryMB: number): number {
  return instanceMemoryMB / 2;
}

/** The instance's Node.js arguments: the setting's, split on whitespace, or the default heap cap. */
export function workerExecArgv(env: NodeJS.ProcessEnv = process.env): string[] {
  const value = env[WORKER_ARGUMENTS_SETTING]?.trim();
  if (value) return value.split(/\s+/);
  return [`--max-old-space-size=${workerHeapMb(DEFAULT_INSTANCE_MEMORY_MB)}`];
}
