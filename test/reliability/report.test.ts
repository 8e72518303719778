// The reliability report of a run stopped part way: each row is on disk as soon as it ends, and
// the page renders what was measured and names the rows that were not (a full-profile run cut
// short once left no page to show for the rows it had passed).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import reliabilityConfig from '../../vitest.reliability.config.js';
import ciConfig from '../../vitest.config.js';
import { renderReport } from './report.js';
import { readResults, recordResult } from './support/results.js';
import { FAULT_ROW_CLAIMS } from './support/faultRowClaims.js';

const row = (title: string) => ({
  passed: true,
  title,
  fault: 'a fault',
  expected: 200_000,
  delivered: 200_000,
  reportedNotSent: 0,
  lost: 0,
  extra: 0,
  mostDeliveries: 1,
  allowedDeliveries: 1,
  resentDeliveries: 0,
  runStatus: 'succeeded',
  reason: null,
  runSeconds: 12.5,
  vendorCalls: 200,
  notes: [],
});

describe('the reliability results of a run stopped part way', () => {
  it('are on disk row by row as each row ends, a row run again replacing its old figures', () => {
    const folder = mkdtempSync(join(tmpdir(), 'outflow-reliability-results-'));
    try {
      const file = join(folder, 'results-full.json');
      recordResult('faultMatrix', 'vendor-5xx', row('Vendor 5xx at 10%'), file);
      expect(Object.keys(readResults(file).faultMatrix ?? {})).toEqual(['vendor-5xx']);
      recordResult('faultMatrix', '429-storms', row('429 storms'), file);
      recordResult('faultMatrix', 'vendor-5xx', { ...row('Vendor 5xx at 10%'), delivered: 199_999, passed: false }, file);
      const results = readResults(file);
      expect(Object.keys(results.faultMatrix ?? {})).toEqual(['vendor-5xx', '429-storms']);
      expect(results.faultMatrix?.['vendor-5xx']).toMatchObject({ delivered: 199_999, passed: false });
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('render what was measured and name every fault row that was not', () => {
    const measuredAt = '2026-12-02T05:00:00.000Z';
    const page = renderReport('full', {
      faultMatrix: {
        '429-storms': { ...row('429 storms'), id: '429-storms', measuredAt, load: 27.5 },
        // A row the suite no longer has is not reported.
        'in-list-twice': { ...row('An old row'), id: 'in-list-twice', measuredAt, load: 1 },
      },
    });
    expect(page).toContain('| 429 storms | a fault | 200,000 | 200,000 | 0 | 0 | 0 | 1 (1) | 0 | succeeded | — | 12.5 s | pass |');
    expect(page).not.toContain('An old row');
    const notMeasured = Object.keys(FAULT_ROW_CLAIMS).filter((id) => id !== '429-storms');
    expect(page).toContain(`${notMeasured.length} of ${notMeasured.length + 1} fault-matrix rows not measured`);
    for (const id of notMeasured) expect(page).toContain(`**${id}** (${FAULT_ROW_CLAIMS[id]})`);
    expect(page).toContain(`Measured ${measuredAt} to ${measuredAt}`);
  });

  it('are rendered after every test of the suite, in both profiles, not only when the run ends', () => {
    const setup = 'test/reliability/renderReportAfterEachTest.ts';
    expect(reliabilityConfig.test?.setupFiles).toContain(setup);
    const projects = (ciConfig.test?.projects ?? []) as { test?: { name?: string; setupFiles?: string[] } }[];
    const ciProfile = projects.find((project) => project.test?.name === 'reliability (ci profile)');
    expect(ciProfile?.test?.setupFiles).toContain(setup);
  });
});
