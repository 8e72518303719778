// Renders the report again after every test of the reliability suite, from the results file each
// row merged itself into as it ended: a run stopped part way (a timeout, a killed shell, a file's
// hook failing) still leaves its page showing every row it measured. The global teardown
// (reportSetup.ts) renders it once more at the end of a run that finishes.
import { afterEach } from 'vitest';
import { writeReport } from './report.js';
import { PROFILE } from './support/results.js';

afterEach(() => {
  writeReport(PROFILE);
});
