// `npm start` stopped by a signal to npm itself (a process manager, CI, `kill`) must reach
// local/start.ts, which stops Azurite, the host and the simulators. npm forwards SIGTERM to its
// child only: with `sh -c "… && node …"` that child is the shell, which dies and leaves node
// running with every port held — hence `exec node` in the start script. This runs the project's
// own start script in a scratch package whose build does nothing and whose start.js only
// records the signal it gets.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const projectScripts = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')).scripts as Record<string, string>;
const scratch = mkdtempSync(join(tmpdir(), 'outflow-npm-start-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('npm start and signals', () => {
  it('delivers SIGTERM sent to npm to the start process itself', async () => {
    writeFileSync(
      join(scratch, 'package.json'),
      JSON.stringify({ name: 'scratch', version: '0.0.0', private: true, scripts: { build: 'node -e ""', start: projectScripts.start } }),
    );
    mkdirSync(join(scratch, 'dist/local'), { recursive: true });
    writeFileSync(
      join(scratch, 'dist/local/start.js'),
      `const fs = require('node:fs');
fs.writeFileSync('started', String(process.pid));
process.on('SIGTERM', () => { fs.writeFileSync('stopped', 'SIGTERM'); process.exit(0); });
setInterval(() => {}, 1000);
`,
    );
    const npm = spawn('npm', ['start'], { cwd: scratch, stdio: 'ignore' });
    let startPid: number | undefined;
    try {
      await until(() => existsSync(join(scratch, 'started')), 30_000);
      startPid = Number(readFileSync(join(scratch, 'started'), 'utf8'));
      npm.kill('SIGTERM');
      await until(() => existsSync(join(scratch, 'stopped')), 10_000);
      expect(readFileSync(join(scratch, 'stopped'), 'utf8')).toBe('SIGTERM');
    } finally {
      if (npm.exitCode === null) npm.kill('SIGKILL');
      if (startPid && !existsSync(join(scratch, 'stopped'))) process.kill(startPid, 'SIGKILL');
    }
  }, 45_000);
});
