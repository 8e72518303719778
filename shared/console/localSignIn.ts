// The console link that `npm start` prints carries a one-time code in its fragment (never sent
// to a server, never in a log). The page trades it here for an admin development token, once:
// the link cannot sign in a second time, and the token itself never appears in a URL.
import { createHash, timingSafeEqual } from 'node:crypto';
import { NotFound, Unauthorized } from '../errors.js';
import { signDevToken } from '../auth/devToken.js';
import { setting } from '../settings.js';
import { consoleConfig } from './consoleConfig.js';

/** Codes already traded on this instance (locally there is one). */
const usedCodes = new Set<string>();

const digest = (value: string) => createHash('sha256').update(value).digest();

export async function exchangeSignInCode(code: string): Promise<{ token: string; expiresIn: number }> {
  const expected = setting('CONSOLE_SIGN_IN_CODE');
  const key = setting('AUTH_DEV_SIGNING_KEY');
  if (!expected || !key || !consoleConfig().localTokens) {
    throw new NotFound(
      "Sign-in codes are a local feature: this app has no CONSOLE_SIGN_IN_CODE (sign in with your organisation's account instead).",
    );
  }
  // Compared as digests: equal length, constant time.
  if (!timingSafeEqual(digest(code), digest(expected))) throw new Unauthorized('This sign-in code is not the one npm start printed.');
  if (usedCodes.has(expected))
    throw new Unauthorized(
      'This sign-in link was used already. Paste a token from `npm run -s token` or restart npm start for a new link.',
    );
  usedCodes.add(expected);
  const expiresIn = 12 * 3600;
  const token = await signDevToken({
    key,
    role: 'admin',
    sub: 'alice',
    name: 'Alice (local admin)',
    issuer: setting('AUTH_ISSUER')!,
    audience: setting('AUTH_AUDIENCE')!,
    expiresIn: `${expiresIn}s`,
  });
  return { token, expiresIn };
}
