// A development TLS certificate for the Key Vault emulator, made fresh at each start. Processes
// that call the emulator trust it through NODE_EXTRA_CA_CERTS (never by disabling TLS checks).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import selfsigned from 'selfsigned';

export interface DevCertificate {
  certPath: string;
  keyPath: string;
  cert: string;
  key: string;
}

export async function createDevCertificate(folder: string): Promise<DevCertificate> {
  mkdirSync(folder, { recursive: true });
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + 30 * 24 * 3600 * 1000);
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'outflow-local-keyvault' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [
      // A self-signed leaf that is also its own CA, so NODE_EXTRA_CA_CERTS can anchor it.
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  const certPath = join(folder, 'keyvault-cert.pem');
  const keyPath = join(folder, 'keyvault-key.pem');
  writeFileSync(certPath, pems.cert);
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  return { certPath, keyPath, cert: pems.cert, key: pems.private };
}
