// A connection's own limits, apart from the connection's schema: export eligibility reads them,
// and the schema names the destination types (the registry), whose adapters check eligibility.
import { z } from 'zod';

/** Limits of this account that are lower than the destination's (a vendor contract may set them). */
export const connectionLimits = z.strictObject({
  maxMembersPerExport: z
    .number()
    .int()
    .min(1)
    .max(Number.MAX_SAFE_INTEGER)
    .optional()
    .describe("Profiles one export may send with this connection; at most the destination's own limit. Runs over it are skipped."),
  requestsPerSecond: z
    .number()
    .positive()
    .max(100_000)
    .optional()
    .describe("Request rate for this account; the lower of it and the destination's rate applies."),
});
export type ConnectionLimits = z.infer<typeof connectionLimits>;
