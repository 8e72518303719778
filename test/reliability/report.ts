// Renders RELIABILITY.md from the suite's results file: the fault matrix, API load, security
// checks and the fuzz run, with the machine, the dates and the command that reproduces them.
// Rendered after every test of the suite (renderReportAfterEachTest.ts) and by the global teardown;
// fault rows not measured yet are listed as such.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FAULT_ROW_CLAIMS } from './support/faultRowClaims.js';
import {
  machine,
  PROFILES,
  PROJECT_ROOT,
  readResults,
  resultsFile,
  type ProfileName,
  type ResultEntry,
  type Results,
} from './support/results.js';

export const reportFile = (profile: ProfileName) =>
  profile === 'full' ? join(PROJECT_ROOT, 'RELIABILITY.md') : join(PROJECT_ROOT, '.outflow', 'reliability', `RELIABILITY-${profile}.md`);

const n = (value: unknown) =>
  typeof value === 'number' ? value.toLocaleString('en-US') : value === null || value === undefined ? '—' : String(value);
const ms = (value: unknown) => (typeof value === 'number' ? `${value.toLocaleString('en-US', { maximumFractionDigits: 1 })} ms` : '—');
const cell = (value: unknown) => n(value).replace(/\|/g, '\\|').replace(/\n/g, ' ');
const verdict = (entry: ResultEntry) => (entry.notRun ? 'not run here' : entry.passed ? 'pass' : '**FAIL**');

function table(header: string[], rows: unknown[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ].join('\n');
}

function entries(results: Results, section: keyof Results): ResultEntry[] {
  return Object.values(results[section] ?? {});
}

/** The fault matrix's rows in the suite's order (every row says what it proves), those measured and those not. */
function faultRows(results: Results): { measured: ResultEntry[]; notMeasured: string[] } {
  const recorded = results.faultMatrix ?? {};
  const ids = Object.keys(FAULT_ROW_CLAIMS);
  return {
    measured: ids.flatMap((id) => (recorded[id] ? [recorded[id]] : [])),
    notMeasured: ids.filter((id) => !recorded[id]),
  };
}

function notMeasuredNote(ids: string[]): string[] {
  return ids.length === 0
    ? []
    : [
        '',
        `Not measured in this profile yet (the run stopped before them, or they have not been run): ${ids.map((id) => `**${id}** (${FAULT_ROW_CLAIMS[id]})`).join('; ')}.`,
      ];
}

function faultMatrix(results: Results): string {
  const { measured: rows, notMeasured } = faultRows(results);
  if (rows.length === 0) return ['_Not run yet._', ...notMeasuredNote(notMeasured)].join('\n');
  const lines = [
    table(
      [
        'fault',
        'injected',
        'expected',
        'delivered',
        'reported, not sent',
        'lost',
        'extra',
        'most deliveries of one member (allowed)',
        're-sent deliveries',
        'run status',
        'reason',
        'run time',
        'result',
      ],
      rows.map((row) => {
        const injected = row.injected as Record<string, number>;
        const seen = Object.entries(injected ?? {})
          .filter(([, value]) => value > 0)
          .map(([name, value]) => `${value} ${name}`);
        return [
          row.title,
          `${row.fault}${seen.length ? ` (${seen.join(', ')})` : ''}`,
          row.expected,
          row.delivered,
          row.reportedNotSent,
          row.lost,
          row.extra,
          row.mostDeliveries === undefined ? '—' : `${row.mostDeliveries} (${row.allowedDeliveries})`,
          row.resentDeliveries,
          row.runStatus,
          row.reason ?? '—',
          row.runSeconds === null ? '—' : `${row.runSeconds} s`,
          verdict(row),
        ];
      }),
    ),
    '',
    'What each row proves, and what happened in it (when, and why any delivery was repeated):',
    '',
    ...rows.map((row) => {
      const claim = FAULT_ROW_CLAIMS[row.id];
      const notes = [...(claim ? [`proves that ${claim}`] : []), ...((row.notes as string[]) ?? [])];
      if (row.resendsExpected && Number(row.resentDeliveries) > 0)
        notes.push(`re-sent: ${row.resendsExpected} (${n(row.resentMembers)} members received more than once)`);
      if (row.error) notes.push(`error: ${row.error}`);
      notes.push(`${n(row.vendorCalls)} vendor calls; measured ${row.measuredAt}, load ${row.load}`);
      return `- **${row.title}**: ${notes.join('; ')}.`;
    }),
    ...notMeasuredNote(notMeasured),
  ];
  return lines.join('\n');
}

function apiLoad(results: Results): string {
  const rows = entries(results, 'apiLoad');
  if (rows.length === 0) return '_Not run yet._';
  const out: string[] = [];
  for (const row of rows) {
    out.push(
      table(
        [
          'clients',
          'duration',
          'requests',
          'requests/s',
          'p50',
          'p95',
          'p99',
          'max',
          '5xx',
          'network errors',
          '412 (stale ETag)',
          '409 (run already active)',
          '429',
          'other 4xx',
          'counter increments that succeeded',
          'lost updates',
          'result',
        ],
        [
          [
            row.clients,
            `${row.seconds} s`,
            row.requests,
            row.requestsPerSecond,
            ms(row.p50),
            ms(row.p95),
            ms(row.p99),
            ms(row.max),
            row.serverErrors,
            row.networkErrors,
            row.preconditionFailed,
            row.conflicts,
            row.tooManyRequests,
            row.otherClientErrors,
            row.successfulWrites,
            row.lostUpdates,
            verdict(row),
          ],
        ],
      ),
      '',
      table(
        ['operation', 'requests', 'p50', 'p95', 'p99', 'statuses'],
        (
          (row.operations as {
            name: string;
            requests: number;
            p50: number;
            p95: number;
            p99: number;
            statuses: Record<string, number>;
          }[]) ?? []
        ).map((operation) => [
          operation.name,
          operation.requests,
          ms(operation.p50),
          ms(operation.p95),
          ms(operation.p99),
          Object.entries(operation.statuses)
            .map(([status, count]) => `${status}×${count}`)
            .join(' '),
        ]),
      ),
      '',
      `Measured ${row.measuredAt}, load ${row.load}.`,
    );
  }
  return out.join('\n');
}

function security(results: Results): string {
  const rows = entries(results, 'security');
  if (rows.length === 0) return '_Not run yet._';
  return table(
    ['check', 'what was checked', 'figures', 'result'],
    rows.map((row) => [
      row.title ?? `Secrets nowhere (${row.suite ?? row.id})`,
      row.checked ?? 'every secret value set in the suite, in every form (plain, JSON-escaped, base64)',
      row.figures ?? summarize(row),
      verdict(row),
    ]),
  );
}

function summarize(row: ResultEntry): string {
  if (row.id.startsWith('secret-scan')) {
    return `${n(row.secrets)} secret values; ${n(row.tableRows)} rows in ${n(row.tables)} tables, ${n(row.queueMessages)} messages in ${n(row.queues)} queues (poison queues included), ${n(row.blobs)} working blobs, ${n(row.responses)} API responses, ${n(row.logLines)} host log lines; ${(row.findings as string[]).length} findings`;
  }
  return '';
}

function fuzz(results: Results): string {
  const rows = entries(results, 'fuzz');
  if (rows.length === 0) return '_Not run yet._';
  return table(
    ['requests', 'routes', 'seed', 'time', '5xx', 'errors not problem+json', 'statuses', 'result'],
    rows.map((row) => [
      row.requests,
      row.routes,
      String(row.seed),
      `${row.seconds} s`,
      row.serverErrors,
      row.notProblemJson,
      Object.entries((row.statuses as Record<string, number>) ?? {})
        .map(([status, count]) => `${status}×${count}`)
        .join(' '),
      verdict(row),
    ]),
  );
}

export function renderReport(profile: ProfileName, results: Results = readResults(resultsFile(profile))): string {
  const SIZES = PROFILES[profile];
  const { measured, notMeasured } = faultRows(results);
  // Fault rows the suite no longer has are left out (their ids have no claim).
  const all = [...measured, ...(['apiLoad', 'security', 'fuzz'] as const).flatMap((section) => entries(results, section))];
  const dates = all.map((entry) => entry.measuredAt).sort();
  const loads = all.map((entry) => entry.load);
  const box = machine();
  const failing = all.filter((entry) => !entry.passed && !entry.notRun);
  const notRun = all.filter((entry) => entry.notRun);
  const command = profile === 'full' ? 'npm run test:reliability' : `RELIABILITY_PROFILE=${profile} npm run test:reliability`;
  return `# Reliability

What Outflow promises — no member lost or sent twice, no one in where they don't belong — measured
by a suite anyone can run. Every figure below comes from

\`\`\`bash
npm ci && ${command}
\`\`\`

(${profile} profile: ${SIZES.members.toLocaleString('en-US')} members per fault-matrix row, ${SIZES.apiClients} API clients for ${SIZES.apiLoadMs / 1000} s, ≥ ${SIZES.fuzzRequests.toLocaleString('en-US')} fuzz requests;
the ci profile runs every row and check small inside \`npm test\`, so CI runs them on every change). It builds, starts the whole local stack
per file (Azurite, the Key Vault emulator, the Campaign Monitor simulator, the Functions host as a
child process, all on 127.0.0.1) and merges each row into \`.outflow/reliability/results-${profile}.json\` as
the row ends; this page is rendered from that file after every test and at the end of the run, so a
run stopped part way still shows what it measured (each row keeps the time it was measured; a
single file, or one row with \`-t\`, can be run again with \`npx vitest run --config vitest.reliability.config.ts <file>\`
after \`npm run build\`, and its rows replace the old ones).

Machine: ${box.cores} cores (${box.cpu}), ${box.memoryGiB} GiB RAM, Node ${box.node}, ${box.platform}.
Measured ${dates[0] ?? '—'} to ${dates[dates.length - 1] ?? '—'} (UTC). The machine is shared with
other work: load average (1 min) ${loads.length ? `${Math.min(...loads)}–${Math.max(...loads)}` : '—'} while the figures were taken, so times are
an upper bound.

${failing.length === 0 ? 'Every row that ran passed.' : `**${failing.length} row(s) failed:** ${failing.map((entry) => entry.title ?? entry.id).join(', ')} — see the notes.`}${notRun.length ? ` Could not run on this machine: ${notRun.map((entry) => entry.title ?? entry.id).join(', ')} (see its row for why, and what was checked instead).` : ''}${notMeasured.length ? ` ${notMeasured.length} of ${notMeasured.length + measured.length} fault-matrix rows not measured in this profile yet (listed under the matrix).` : ''}

## Fixed while building this suite

- A sender that failed *before* sending a chunk (the export unreadable, Key Vault down with nothing
  cached, a mapping the planned segment lacks) kept its lease on the chunk; every retry then found
  the chunk leased and only re-queued it, so the queue's dequeue count never grew and the run could
  never end. It now gives the chunk back with the reason, and the retries and the poison queue end
  it (regression test: \`test/segmentSender/senderSetupFailures.test.ts\`).
- While Key Vault is unreachable, senders use the secrets they last read once the one-minute cache
  has expired (asking Key Vault again every 10 s), instead of holding up every chunk they start
  until it answers; after a vendor auth error they still insist on a fresh read (same test file).
- The API had no request rate limit: one caller could take the whole host. It now has a token
  bucket per caller (\`shared/http/rateLimit.ts\`, unit-tested in \`test/http/rateLimit.test.ts\`;
  \`API_RATE_LIMIT\` sets it, \`test/integration/apiRateLimit.test.ts\`).
- Key Vault unreachable as a run started (no secret cached yet) failed the run: planning and each
  chunk spent the queue's five attempts in about a minute and went to the poison queue. Work
  that finds Key Vault out of reach is now queued again every 15 s, outside those attempts, for up
  to 15 minutes (\`shared/runs/secretsOutage.ts\`); found by the row *Key Vault unavailable as the
  run starts*, which \`npm test\` runs in the ci profile.
- A sender checked its time budget only after each batch, so on a loaded instance a batch begun
  just inside the budget could outlast \`functionTimeout\`: in the row *Plan message lost* (no
  vendor rate, load 16.8) 24 sender invocations on one instance queued for Campaign Monitor's 4
  calls in flight, 15 ran past the 20 s timeout, and each recycle sent the batches in flight again
  (3,000 members twice). A sender now hands its chunk on before a batch that would end past the
  budget (\`shared/segmentSender/batchPacer.ts\`), stops waiting for a call slot when the budget
  ends, and a connection has at most 2 senders per call it allows in flight
  (\`test/segmentSender/batchPacer.test.ts\`, \`test/segmentSender/sendChunk.test.ts\`).
- The local host's front door closed an idle client connection after Node's 5 s: a request sent as
  it closed got no answer at all (one fuzz request, a POST, at load 20). It now keeps one open 240 s,
  as the Azure Load Balancer does (\`test/local/functionsHostRuntimeRules.test.ts\`).

The figures below were measured with these fixes in the build.

## Fault matrix

Each row is its own export of the segment *All customers* to its own Campaign Monitor list, with
one fault injected. The rows from *Campaign Monitor's documented rate under a short
functionTimeout* onwards run on a second stack whose host keeps the Azure Functions runtime's rules
(README, *Runtime rules the local host keeps*): two host instances on the same queues and tables,
\`functionTimeout\` lowered to 20 s (an invocation past it fails and its worker is recycled with
everything in flight on it). The test compares the list with the snapshot the run planned, email
by email:

- **delivered**: distinct members in the list; **reported, not sent**: members the run reports
  instead (a failed chunk with its reason, or failed/skipped records); **lost**: members neither
  delivered nor reported — must be 0; **extra**: members in the list that are not in the snapshot
  (a refreshed segment leaking in) — must be 0.
- **most deliveries of one member (allowed)**: the simulator counts every member each import call
  carried (repeats in one call included), so a member *sent* twice shows whatever the list holds
  (the vendor keys a list by email, and so does the simulator: comparing the list's entries could
  never find a repeat). Must be 1 unless the row explains re-sends, and then at most the bound
  in brackets. **re-sent deliveries**: deliveries beyond one per member. A re-send is an upsert of
  the same data, so the list is unchanged; they happen only where the engine cannot know whether a
  call took effect: the host or its worker killed (or storage gone) between a vendor call and its
  acknowledgement in the ledger, or a call that timed out at the client but was processed by the
  vendor anyway. Every other row must show 0.
- The run's own counts must agree: \`counts.succeeded\` equals the members in the list.

${faultMatrix(results)}

## API load

Concurrent clients (each its own caller) run a mix of reads and writes against the local host for
the whole duration, one request in flight each, every request bounded by a timeout. Writes include
read-modify-write updates with \`If-Match\` on a few shared exports: each shared export's name
carries a counter that a successful write increments, so after the run every export's counter must
equal the number of successful writes to it (no lost update); a 412 (someone else wrote first)
is counted, and the client reads again on its next increment. Other writes: create and delete
(with \`If-Match\`), duplicate, schedule changes (\`If-Match\`), run now (409 while a run is active).

${apiLoad(results)}

## Security

${security(results)}

## Fuzz

Generated requests over every route of the served OpenAPI document (fast-check, fixed seed):
malformed and mistyped bodies, unknown fields, oversized and deeply nested bodies, bad ids and
query values, odd content types and unicode. No answer may be a 5xx, and every error answer must
be \`application/problem+json\`.

${fuzz(results)}
`;
}

export function writeReport(profile: ProfileName): string {
  const file = reportFile(profile);
  mkdirSync(dirname(file), { recursive: true });
  // Written aside and renamed: in the ci profile the suite's files run side by side, each
  // rendering the page after its tests.
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, renderReport(profile));
  renameSync(temporary, file);
  return file;
}
