// Where webhooks may go: public addresses over https. Loopback, private ranges, link-local,
// metadata addresses, their IPv6 forms and names resolving to any of them are refused when a
// webhook is saved (a 400 naming the field) — loopback alone allowed by WEBHOOK_ALLOW_LOOPBACK.
import { describe, expect, it } from 'vitest';
import { checkAddress, embeddedIpv4, resolveSafeAddress, type Resolver } from '../../shared/webhooks/targetAddress.js';
import { checkWebhookUrl } from '../../shared/webhooks/webhookUrl.js';
import { ValidationFailed } from '../../shared/errors.js';

/** Names mapped here, no network: like a hosts file an attacker controls. */
const names: Record<string, string[]> = {
  'hooks.example.com': ['93.184.215.14'],
  'dual.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
  'metadata.attacker.example': ['169.254.169.254'],
  'internal.attacker.example': ['10.1.2.3'],
  'sneaky.attacker.example': ['93.184.215.14', '192.168.0.7'],
  'v6-private.attacker.example': ['fd12:3456::1'],
  'mapped.attacker.example': ['::ffff:169.254.169.254'],
  'loopback.attacker.example': ['127.0.0.1'],
};
const resolve: Resolver = async (host) => {
  const found = names[host];
  if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

const strict = { allowLoopback: false, resolve };
const local = { allowLoopback: true, resolve };

async function refusal(url: string, policy: { allowLoopback: boolean; resolve?: Resolver } = strict): Promise<string | undefined> {
  try {
    await checkWebhookUrl(url, 'body.url', policy);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationFailed);
    expect((error as ValidationFailed).errors.map((entry) => entry.path)).toEqual(['body.url']);
    return (error as ValidationFailed).errors[0]!.message;
  }
}

describe('addresses', () => {
  it.each([
    '127.0.0.1',
    '127.8.9.10',
    '::1',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.0.1',
    '169.254.169.254',
    '169.254.0.1',
    '100.64.0.1',
    '100.100.100.200',
    '0.0.0.0',
    '255.255.255.255',
    '224.0.0.1',
    '192.0.2.1',
    '198.18.0.1',
    '::',
    'fe80::1',
    'fc00::1',
    'fd00:ec2::254',
    'ff02::1',
    '2001:db8::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '::ffff:a9fe:a9fe',
    '64:ff9b::a9fe:a9fe',
    '2002:a9fe:a9fe::1',
    '::127.0.0.1',
  ])('refuses %s', (address) => {
    expect(checkAddress(address, { allowLoopback: false }).allowed).toBe(false);
  });

  it.each(['93.184.215.14', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '2a00:1450:4001::200e', '::ffff:8.8.8.8'])(
    'allows %s',
    (address) => {
      expect(checkAddress(address, { allowLoopback: false })).toEqual({ allowed: true });
    },
  );

  it('allows loopback, and only loopback, with the local allowance', () => {
    for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1'])
      expect(checkAddress(address, { allowLoopback: true }).allowed, address).toBe(true);
    for (const address of ['10.0.0.1', '169.254.169.254', '192.168.1.1', 'fd00::1', '0.0.0.0', '::ffff:10.0.0.1'])
      expect(checkAddress(address, { allowLoopback: true }).allowed, address).toBe(false);
  });

  it('reads the IPv4 address inside mapped, NAT64 and 6to4 addresses', () => {
    expect(embeddedIpv4('::ffff:169.254.169.254')).toBe('169.254.169.254');
    expect(embeddedIpv4('::ffff:a9fe:a9fe')).toBe('169.254.169.254');
    expect(embeddedIpv4('64:ff9b::a00:1')).toBe('10.0.0.1');
    expect(embeddedIpv4('2002:c0a8:0101::1')).toBe('192.168.1.1');
    expect(embeddedIpv4('2606:4700::1111')).toBeUndefined();
  });

  it('refuses a name if any of its addresses is refused (the resolver could pick that one)', async () => {
    await expect(resolveSafeAddress('sneaky.attacker.example', strict)).rejects.toThrow(/192\.168\.0\.7/);
    await expect(resolveSafeAddress('dual.example.com', strict)).resolves.toEqual({ address: '93.184.215.14', family: 4 });
  });
});

describe('webhook URLs (a 400 naming body.url)', () => {
  it('accepts https to a public host', async () => {
    expect(await refusal('https://hooks.example.com/outflow?team=data')).toBeUndefined();
    expect(await refusal('https://93.184.215.14:8443/hook')).toBeUndefined();
  });

  it.each([
    ['http://127.0.0.1:4020/hook', /loopback/],
    ['https://127.0.0.1/hook', /loopback/],
    ['https://[::1]/hook', /loopback/],
    ['https://10.0.0.5/hook', /private/],
    ['https://169.254.169.254/latest/meta-data/', /private, link-local, metadata/],
    ['https://[fd00:ec2::254]/', /private/],
    ['https://[::ffff:169.254.169.254]/', /stands for 169\.254\.169\.254/],
    ['https://2852039166/', /169\.254\.169\.254/],
    ['https://metadata.attacker.example/', /metadata\.attacker\.example resolves to 169\.254\.169\.254/],
    ['https://internal.attacker.example/', /resolves to 10\.1\.2\.3/],
    ['https://v6-private.attacker.example/', /resolves to fd12:3456::1/],
    ['https://mapped.attacker.example/', /stands for 169\.254\.169\.254/],
    ['https://loopback.attacker.example/', /loopback/],
    ['https://unknown.attacker.example/', /does not resolve/],
    ['http://hooks.example.com/hook', /use https/],
    ['https://user:secret@hooks.example.com/', /user name or password/],
    ['ftp://hooks.example.com/', /use https/],
    ['hooks.example.com/hook', /absolute URL/],
  ])('refuses %s', async (url, reason) => {
    expect(await refusal(url)).toMatch(reason);
  });

  it('refuses names that really resolve to loopback (localhost, through the system resolver)', async () => {
    expect(await refusal('https://localhost/hook', { allowLoopback: false })).toMatch(/localhost resolves to .*loopback/);
  });

  it('with WEBHOOK_ALLOW_LOOPBACK: loopback over http too, nothing private', async () => {
    expect(await refusal('http://127.0.0.1:4020/hook', local)).toBeUndefined();
    expect(await refusal('http://localhost:4020/hook', { allowLoopback: true })).toBeUndefined();
    expect(await refusal('http://hooks.example.com/hook', local)).toMatch(/use https/);
    expect(await refusal('http://10.0.0.5/hook', local)).toMatch(/private/);
    expect(await refusal('https://metadata.attacker.example/', local)).toMatch(/169\.254\.169\.254/);
  });
});
