// At the end of a reliability run, renders the report from the results the test files recorded
// (RELIABILITY.md for the full profile; .outflow/reliability/RELIABILITY-ci.md for the ci one).
// Global setup runs in Vitest's main process: the profile is the project's env, not this process's.
import type { TestProject } from 'vitest/node';
import { writeReport } from './report.js';
import { profileNamed } from './support/results.js';

export default function setup(project: TestProject): () => void {
  const profile = profileNamed(project.config.env?.RELIABILITY_PROFILE ?? process.env.RELIABILITY_PROFILE);
  return () => console.log(`Reliability report (${profile} profile) written to ${writeReport(profile)}`);
}
