// Where a host's CPU time went, by pipeline step, from a V8 CPU profile (`node --cpu-prof`).
//   node dist/bench/cpuProfileSummary.js FILE.cpuprofile…
// A sample counts toward the step of the nearest project function on its stack (so the storage
// SDK under a ledger write counts as the ledger write); samples without one (socket reads,
// stream callbacks) count by the library they are in. Builtins such as JSON.stringify have no
// frame of their own in V8 profiles: they count toward the function that called them.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export const STEPS = [
  'lake read',
  'CSV scan',
  'field matching',
  'vendor body (mapping + JSON encoding)',
  'HTTP to the vendor',
  'ledger writes',
  'record outcomes',
  'rate and concurrency budget',
  'queue hops',
  'run bookkeeping (runs, finalize)',
  'sender loop',
  'storage SDK and sockets (unattributed)',
  'host HTTP API (status polls)',
  'logs and metrics',
  'garbage collection',
  'other',
] as const;
export type Step = (typeof STEPS)[number] | 'idle';

const PROJECT = /\/dist\/(shared|local\/host|functions)\//;

function projectStep(url: string, name: string): Step | undefined {
  if (!PROJECT.test(url)) return undefined;
  const file = url.slice(url.lastIndexOf('/') + 1);
  if (file === 'lakeReader.js')
    return ['download', 'partitionBlobs', 'readModel', 'wrapDownloadError'].includes(name) ? 'lake read' : 'CSV scan';
  if (file === 'dataMatching.js') return 'field matching';
  if (file === 'vendorHttp.js') return 'HTTP to the vendor';
  if (url.includes('/shared/destinations/')) return 'vendor body (mapping + JSON encoding)';
  if (file === 'runLedger.js') return name === 'recordOutcomes' ? 'record outcomes' : 'ledger writes';
  if (file === 'duplicateMembers.js') return 'ledger writes';
  if (['rateBudget.js', 'concurrencyBudget.js', 'senderSlots.js'].includes(file)) return 'rate and concurrency budget';
  if (url.includes('/local/host/') && /queue|invoke/i.test(file)) return 'queue hops';
  if (url.includes('/local/host/')) return 'host HTTP API (status polls)';
  if (['runStore.js', 'finalizeRun.js', 'runProgress.js', 'planRun.js', 'startRun.js', 'recoverRuns.js'].includes(file))
    return 'run bookkeeping (runs, finalize)';
  if (file === 'sendChunk.js') return 'sender loop';
  if (url.includes('/shared/observability/')) return 'logs and metrics';
  if (url.includes('/shared/storage/')) return 'storage SDK and sockets (unattributed)';
  return undefined;
}

function libraryStep(url: string): Step | undefined {
  if (url.includes('csv-parse')) return 'CSV scan';
  if (url.includes('undici')) return 'HTTP to the vendor';
  if (url.includes('@azure/storage-queue')) return 'queue hops';
  if (url.includes('@azure/storage-blob')) return 'lake read';
  if (url.includes('@azure/') || url.includes('@typespec/') || url.includes('@opentelemetry/'))
    return 'storage SDK and sockets (unattributed)';
  return undefined;
}

export function summarise(profile: CpuProfile): { seconds: Record<Step, number>; busySeconds: number } {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const stepOf = new Map<number, Step>();
  const classify = (id: number): Step => {
    const known = stepOf.get(id);
    if (known) return known;
    const leaf = byId.get(id)!.callFrame.functionName;
    let step: Step | undefined = leaf === '(idle)' ? 'idle' : leaf === '(garbage collector)' ? 'garbage collection' : undefined;
    let library: Step | undefined;
    let node: number | undefined = id;
    while (!step && node !== undefined) {
      const { url, functionName } = byId.get(node)!.callFrame;
      step = projectStep(url, functionName);
      library ??= libraryStep(url);
      node = parent.get(node);
    }
    step ??= library ?? (/^node:|^$/.test(byId.get(id)!.callFrame.url) ? 'storage SDK and sockets (unattributed)' : 'other');
    stepOf.set(id, step);
    return step;
  };
  const seconds = Object.fromEntries([...STEPS, 'idle'].map((step) => [step, 0])) as Record<Step, number>;
  for (let index = 0; index < profile.samples.length; index++)
    seconds[classify(profile.samples[index]!)] += (profile.timeDeltas[index] ?? 0) / 1e6;
  const busySeconds = STEPS.reduce((sum, step) => sum + seconds[step], 0);
  return { seconds, busySeconds };
}

/** A Markdown table of the steps, seconds and share of the busy (non-idle) time. */
export function stepTable(summaries: { label: string; seconds: Record<Step, number>; busySeconds: number }[]): string {
  const lines = [
    `| step | ${summaries.map((summary) => `${summary.label} s | %`).join(' | ')} |`,
    `| --- |${summaries.map(() => ' ---: | ---: |').join('')}`,
  ];
  for (const step of STEPS) {
    lines.push(
      `| ${step} | ${summaries.map((summary) => `${summary.seconds[step].toFixed(2)} | ${((100 * summary.seconds[step]) / (summary.busySeconds || 1)).toFixed(1)}`).join(' | ')} |`,
    );
  }
  lines.push(`| **busy (non-idle) total** | ${summaries.map((summary) => `**${summary.busySeconds.toFixed(2)}** | 100`).join(' | ')} |`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = process.argv.slice(2);
  const summaries = files.map((file) => ({
    label: file.replace(/^.*\//, ''),
    ...summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile),
  }));
  console.log(stepTable(summaries));
}

export type { CpuProfile };
