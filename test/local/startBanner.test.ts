// npm start's banner: every line of it works when pasted, and every label reads apart from its value.
import { describe, expect, it } from 'vitest';
import { startBanner } from '../../local/startBanner.js';

const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
const banner = startBanner({
  apiUrl: 'http://127.0.0.1:7071/api',
  consoleSignInCode: 'code123',
  hostInstances: '1 instance',
  keyVaultUrl: 'https://127.0.0.1:8443',
  simulators: [
    { name: 'Campaign Monitor', url: 'http://127.0.0.1:4010' },
    { name: 'Klaviyo', url: 'http://127.0.0.1:40001' },
    { name: 'Google Ads', url: 'http://127.0.0.1:40002' },
  ],
  token,
  webhookReceiverUrl: 'http://127.0.0.1:40003',
});
const lines = banner.split('\n');

describe('startBanner', () => {
  it('puts the whole token in the "export TOKEN=" line, so pasting it signs requests in', () => {
    expect(lines).toContain(`  export TOKEN=${token}`);
    expect(lines).toContain(token);
  });

  it('separates every label from its value, the longest ("Campaign Monitor") too', () => {
    const labelled = lines.filter((line) => /^ {2}[A-Z][A-Za-z ]+:/.test(line));
    expect(labelled.map((line) => line.split(':')[0].trim())).toEqual([
      'Console',
      'API',
      'Functions host',
      'Storage',
      'Key Vault',
      'Campaign Monitor',
      'Klaviyo',
      'Google Ads',
      'Webhooks',
    ]);
    for (const line of labelled) expect(line).toMatch(/^ {2}[A-Za-z ]+: +\S/);
    expect(new Set(labelled.map((line) => line.length - line.slice(line.indexOf(':') + 1).trimStart().length)).size).toBe(1);
  });

  it('names the console link with its one-time code and every simulator URL', () => {
    expect(banner).toContain('http://127.0.0.1:7071/api/console/#code=code123');
    expect(banner).toContain('http://127.0.0.1:40001 (simulator)');
    expect(banner).toContain('http://127.0.0.1:40002 (simulator)');
    expect(banner).toContain('http://127.0.0.1:40003/_receiver/deliveries');
  });
});
