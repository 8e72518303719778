// Prints a development token the local stack accepts:
//   npm run -s token -- --role admin --sub alice [--name "Alice"] [--expires 12h]
import { parseArgs } from 'node:util';
import { signDevToken } from '../shared/auth/devToken.js';
import { ROLES, type Role } from '../shared/auth/principal.js';
import { SETTINGS } from '../shared/settings.js';
import { localSetting } from './localSettings.js';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

const { values } = parseArgs({
  options: {
    role: { type: 'string', multiple: true, default: ['admin'] },
    sub: { type: 'string', default: 'developer' },
    name: { type: 'string' },
    expires: { type: 'string', default: '12h' },
  },
});

const roles = values.role!.flatMap((role) => role.split(','));
for (const role of roles)
  if (!(ROLES as readonly string[]).includes(role)) fail(`Unknown role '${role}'. Use one of: ${ROLES.join(', ')}.`);
const key = localSetting('AUTH_DEV_SIGNING_KEY');
if (!key) fail('No AUTH_DEV_SIGNING_KEY in local.settings.json or the environment. Run `npm start` once: it creates one.');

const token = await signDevToken({
  key,
  role: roles as Role[],
  sub: values.sub!,
  name: values.name,
  issuer: localSetting('AUTH_ISSUER') ?? SETTINGS.AUTH_ISSUER.default,
  audience: localSetting('AUTH_AUDIENCE') ?? SETTINGS.AUTH_AUDIENCE.default,
  expiresIn: values.expires,
});
process.stdout.write(`${token}\n`);
