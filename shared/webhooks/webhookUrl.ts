// Whether a URL may receive webhooks: https to a public address (names resolved, every address
// checked); plain http and loopback only with WEBHOOK_ALLOW_LOOPBACK=true (local runs), and
// never to private ranges or metadata addresses. Checked when a webhook is saved, and again by
// the sender right before each attempt (see sendSigned.ts), which connects to the checked address.
import { setting } from '../settings.js';
import { ValidationFailed } from '../errors.js';
import { isLoopback, resolveSafeAddress, UnsafeTarget, type ResolvedAddress, type Resolver } from './targetAddress.js';

export interface TargetPolicy {
  allowLoopback: boolean;
  resolve?: Resolver;
}

export function targetPolicyFromSettings(): TargetPolicy {
  return { allowLoopback: setting('WEBHOOK_ALLOW_LOOPBACK') === 'true' };
}

/** Parses and checks the URL; answers the address to connect to. Throws UnsafeTarget with the reason. */
export async function safeTarget(text: string, policy: TargetPolicy): Promise<{ url: URL; address: ResolvedAddress }> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UnsafeTarget('not an absolute URL (https://host/path)');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UnsafeTarget(`use https (got ${url.protocol.replace(/:$/, '')})`);
  if (url.username || url.password)
    throw new UnsafeTarget('a URL with a user name or password is not accepted; authenticate the deliveries by their signature');
  const address = await resolveSafeAddress(url.hostname, policy);
  if (url.protocol === 'http:') {
    if (!(policy.allowLoopback && isLoopback(address.address)))
      throw new UnsafeTarget('use https (plain http is accepted only for loopback in local runs)');
  }
  return { url, address };
}

/** The URL a webhook may be saved with, or a 400 naming `field`. */
export async function checkWebhookUrl(text: string, field = 'body.url', policy = targetPolicyFromSettings()): Promise<string> {
  try {
    return (await safeTarget(text, policy)).url.href;
  } catch (error) {
    if (!(error instanceof UnsafeTarget)) throw error;
    throw new ValidationFailed(`The webhook URL is not accepted: ${error.message}.`, [{ path: field, message: error.message }]);
  }
}
