// The reliability suite's global setup: the development certificate (as for every test), and at
// the end RELIABILITY.md rendered from the results the test files recorded.
import setupCertificates from '../globalSetup.js';
import { writeReport } from './report.js';

export default async function setup(): Promise<() => void> {
  const removeCertificates = await setupCertificates();
  return () => {
    removeCertificates();
    console.log(`Reliability report written to ${writeReport()}`);
  };
}
