// The host instances' Node.js arguments: the Functions host's languageWorkers__node__arguments,
// else the heap cap infra sets for the default Flex Consumption instance (test/infra checks the two
// agree). A forked instance runs with them.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DEFAULT_INSTANCE_MEMORY_MB, workerExecArgv, workerHeapMb } from '../../local/host/workerArguments.js';

describe('host instance Node.js arguments', () => {
  it('caps the old space at half the default instance memory without the setting', () => {
    expect(workerHeapMb(DEFAULT_INSTANCE_MEMORY_MB)).toBe(1024);
    expect(workerExecArgv({})).toEqual(['--max-old-space-size=1024']);
    expect(workerExecArgv({ languageWorkers__node__arguments: '  ' })).toEqual(['--max-old-space-size=1024']);
  });

  it('takes languageWorkers__node__arguments as they are, split on whitespace', () => {
    expect(workerExecArgv({ languageWorkers__node__arguments: ' --max-old-space-size=300  --stack-trace-limit=50 ' })).toEqual([
      '--max-old-space-size=300',
      '--stack-trace-limit=50',
    ]);
  });

  it('gives a process started with them the heap limit they set', () => {
    const limitMb = (args: string[]) =>
      Number(
        execFileSync(
          process.execPath,
          [...args, '-e', "process.stdout.write(String(require('v8').getHeapStatistics().heap_size_limit / 1048576))"],
          {
            encoding: 'utf8',
          },
        ),
      );
    // The limit V8 reports is the old space plus the young generation's reserve.
    expect(limitMb(workerExecArgv({}))).toBeGreaterThanOrEqual(1024);
    expect(limitMb(workerExecArgv({}))).toBeLessThan(1200);
  });
});
