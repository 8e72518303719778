// Runs the Campaign Monitor simulator on its own and prints its origin (for CAMPAIGN_MONITOR_API_URL).
// node dist/local/simulators/campaignMonitorMain.js [--port 4010] [--api-key KEY]… [--no-rate-limit]
//   [--rate 2 --burst 4] [--seed 1] [--server-error-rate 0.05] [--connection-reset-rate 0.01]
//   [--latency-ms 50] [--no-auto-create-lists]
import { parseArgs } from 'node:util';
import { STAND_IN_RATE_LIMIT, startCampaignMonitorSimulator, type Faults } from './campaignMonitorSimulator.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'api-key': { type: 'string', multiple: true },
    'no-rate-limit': { type: 'boolean', default: false },
    rate: { type: 'string' },
    burst: { type: 'string' },
    seed: { type: 'string' },
    'server-error-rate': { type: 'string' },
    'connection-reset-rate': { type: 'string' },
    'latency-ms': { type: 'string' },
    'no-auto-create-lists': { type: 'boolean', default: false },
  },
});

function number(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`--${name} must be a non-negative number, got '${value}'`);
  return parsed;
}

const faults: Faults = {
  seed: number('seed', values.seed),
  serverErrorRate: number('server-error-rate', values['server-error-rate']),
  connectionResetRate: number('connection-reset-rate', values['connection-reset-rate']),
  latencyMs: number('latency-ms', values['latency-ms']),
};

const simulator = await startCampaignMonitorSimulator({
  port: number('port', values.port),
  apiKeys: values['api-key'],
  // No rate is published: a bucket only when --rate or --burst asks for one.
  rateLimit:
    values['no-rate-limit'] || (values.rate === undefined && values.burst === undefined)
      ? false
      : {
          requestsPerSecond: number('rate', values.rate) ?? STAND_IN_RATE_LIMIT.requestsPerSecond,
          burst: number('burst', values.burst) ?? STAND_IN_RATE_LIMIT.burst,
        },
  faults,
  autoCreateLists: !values['no-auto-create-lists'],
});
console.log(simulator.url);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void simulator.stop().then(() => process.exit(0));
  });
}
