// Runs once in the main Vitest process before workers fork: makes the Key Vault emulator's
// development certificate and points NODE_EXTRA_CA_CERTS at it, which forked workers inherit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDevCertificate } from '../local/devCertificate.js';

export default async function setup(): Promise<() => void> {
  const folder = mkdtempSync(join(tmpdir(), 'outflow-test-certs-'));
  const certificate = await createDevCertificate(folder);
  process.env.NODE_EXTRA_CA_CERTS = certificate.certPath;
  process.env.OUTFLOW_TEST_CERT_PATH = certificate.certPath;
  process.env.OUTFLOW_TEST_KEY_PATH = certificate.keyPath;
  return () => rmSync(folder, { recursive: true, force: true });
}
