import { z } from 'zod';
import { destinationTypes } from '../destinations/registry.js';
import { connectionLimits, type ConnectionLimits } from './connectionLimits.js';

export { connectionLimits, type ConnectionLimits };
import { jsonAtMost, NO_CONTROL_CHARACTERS, NO_CONTROL_CHARACTERS_MESSAGE } from '../validation.js';

export const SHARING = ['adminsOnly', 'contributors'] as const;

export const connectionId = z
  .string()
  .max(64)
  .regex(/^[a-z0-9-]{8,64}$/, 'a connection id is lower-case letters, digits and dashes');

const name = z
  .string()
  .trim()
  .min(1, 'give the connection a name')
  .max(100, 'at most 100 characters')
  .regex(NO_CONTROL_CHARACTERS, NO_CONTROL_CHARACTERS_MESSAGE);

/** Settings are one table column; all secrets of a connection are one Key Vault secret (25k characters). */
export const MAX_SETTINGS_JSON = 16_000;
export const MAX_SECRETS_JSON = 20_000;
const settings = jsonAtMost(z.record(z.string().max(100), z.unknown()), MAX_SETTINGS_JSON);
const secrets = jsonAtMost(z.record(z.string().max(100), z.unknown()), MAX_SECRETS_JSON);

export const createConnectionBody = z.strictObject({
  name,
  type: z.enum(destinationTypes as [string, ...string[]], {
    error: `use one of the destination types: ${destinationTypes.join(', ')} (GET /api/destinations)`,
  }),
  settings: settings.default({}),
  secrets: secrets.default({}),
  sharing: z.enum(SHARING).default('adminsOnly'),
  limits: connectionLimits.default({}),
  privacyConsent: z.literal(true, {
    error: "accept the data privacy and compliance statement: set privacyConsent to true (data leaves the platform's compliance boundary)",
  }),
});
export type CreateConnectionBody = z.infer<typeof createConnectionBody>;

export const updateConnectionBody = z.strictObject({
  name: name.optional(),
  settings: settings.optional(),
  /** Replaces the given secret fields; secrets are never readable. */
  secrets: secrets.optional(),
  sharing: z.enum(SHARING).optional(),
  /** Replaces the connection's limits ({} removes them). */
  limits: connectionLimits.optional(),
});
export type UpdateConnectionBody = z.infer<typeof updateConnectionBody>;

export const connectionView = z.object({
  id: z.string(),
  name: z.string(),
  type: z.string(),
  settings: z.record(z.string(), z.unknown()),
  /** Names of the secret fields that are set (never their values). */
  secretsSet: z.array(z.string()),
  sharing: z.enum(SHARING),
  limits: connectionLimits,
  exportUser: z.object({ id: z.string(), name: z.string() }),
  privacyConsent: z.object({ acceptedBy: z.string(), acceptedAt: z.string() }),
  status: z.enum(['ready']),
  createdAt: z.string(),
  updatedAt: z.string(),
  etag: z.string(),
});
export type ConnectionView = z.infer<typeof connectionView>;

/** What the engine needs to call the destination (secrets resolved from Key Vault at run time). */
export interface ConnectionRecord {
  id: string;
  name: string;
  type: string;
  settings: Record<string, unknown>;
  secretName: string;
  secretFields: string[];
  sharing: (typeof SHARING)[number];
  limits: ConnectionLimits;
  exportUser: { id: string; name: string };
  privacyConsent: { acceptedBy: string; acceptedAt: string };
  createdAt: string;
  updatedAt: string;
  etag: string;
}
