// A Campaign Monitor connection (its secret in the Key Vault the settings point at) and a segment
// export to a list of its own, written straight to the stores: for tests that drive the planner
// or the sender themselves, without the API.
import { randomUUID } from 'node:crypto';
import { insertConnection } from '../../shared/connections/connectionStore.js';
import { insertExport } from '../../shared/exports/exportStore.js';
import type { ExportRecord } from '../../shared/exports/exportDefinition.js';
import { secretStoreFromSettings } from '../../shared/secretStore.js';

export interface CampaignMonitorExportOptions {
  name: string;
  segmentId: string;
  /** The connection's own limit; none by default. */
  requestsPerSecond?: number;
}

export async function insertCampaignMonitorExport(
  options: CampaignMonitorExportOptions,
): Promise<{ record: ExportRecord; listId: string }> {
  const now = new Date().toISOString();
  const connectionId = randomUUID();
  const secretName = `connection-${connectionId}`;
  await secretStoreFromSettings().set(secretName, JSON.stringify({ apiKey: 'key' }));
  await insertConnection({
    id: connectionId,
    name: 'CM',
    type: 'campaign-monitor',
    settings: {},
    secretName,
    secretFields: ['apiKey'],
    sharing: 'adminsOnly',
    limits: options.requestsPerSecond ? { requestsPerSecond: options.requestsPerSecond } : {},
    exportUser: { id: 'alice', name: 'Alice' },
    privacyConsent: { acceptedBy: 'alice', acceptedAt: now },
    createdAt: now,
    updatedAt: now,
    etag: '',
  });
  const listId = `list-${randomUUID().slice(0, 8)}`;
  const record = await insertExport({
    id: randomUUID(),
    name: options.name,
    connectionId,
    connectionType: 'campaign-monitor',
    kind: 'segment',
    segments: [options.segmentId],
    mapping: { email: 'Email', firstName: 'FirstName' },
    details: { listId },
    entities: [],
    schedule: { active: false, mode: 'systemRefresh' },
    createdAt: now,
    createdBy: { id: 'alice', name: 'Alice' },
    updatedAt: now,
    lastRefreshed: null,
    lastRunStatus: null,
    activeRunId: null,
    etag: '',
  } as Parameters<typeof insertExport>[0]);
  return { record, listId };
}
