// Whole stored records for tests that write the engine's tables directly: the plain values every
// such test repeats, with only what a test is about given by the test.
import type { ConnectionRecord } from '../../shared/connections/connection.js';
import type { ExportRecord } from '../../shared/exports/exportDefinition.js';
import type { RunRecord } from '../../shared/runs/run.js';
import { ZERO_COUNTS } from '../../shared/runs/run.js';
import type { ChunkRange } from '../../shared/runs/runLedger.js';
import { chunkIdFor } from '../../shared/runs/runLedger.js';

const ALICE = { id: 'alice', name: 'Alice' };

/**
 * A Campaign Monitor connection shared with admins only, no settings or limits, its privacy
 * consent given by Alice: created and updated at `fields.createdAt` (default now).
 */
export function connectionRecord(
  fields: Partial<ConnectionRecord> & Pick<ConnectionRecord, 'id' | 'name' | 'secretName'>,
): ConnectionRecord {
  const at = fields.createdAt ?? new Date().toISOString();
  return {
    type: 'campaign-monitor',
    settings: {},
    secretFields: [],
    sharing: 'adminsOnly',
    limits: {},
    exportUser: ALICE,
    privacyConsent: { acceptedBy: 'alice', acceptedAt: at },
    createdAt: at,
    updatedAt: at,
    etag: '',
    ...fields,
  };
}

/**
 * A segment export of Segment_X to Campaign Monitor, no connection, mapping the email, not
 * scheduled, no run: created and updated at `fields.createdAt` (default now).
 */
export function exportRecord(fields: Partial<ExportRecord> & Pick<ExportRecord, 'id' | 'name'>): ExportRecord {
  const at = fields.createdAt ?? new Date().toISOString();
  return {
    connectionId: null,
    connectionType: 'campaign-monitor',
    kind: 'segment',
    segments: ['Segment_X'],
    mapping: { email: 'Email' },
    details: {},
    entities: [],
    schedule: { active: false, mode: 'systemRefresh' },
    createdAt: at,
    createdBy: ALICE,
    updatedAt: at,
    lastRefreshed: null,
    lastRunStatus: null,
    activeRunId: null,
    etag: '',
    ...fields,
  };
}

/**
 * A manual run by Alice, running since `fields.createdAt` (default now), not planned, no chunks,
 * segments or tasks, zero counts.
 */
export function runRecord(fields: Partial<RunRecord> & Pick<RunRecord, 'id' | 'exportId'>): RunRecord {
  const at = fields.createdAt ?? new Date().toISOString();
  return {
    trigger: 'manual',
    status: 'running',
    reason: null,
    requestedBy: ALICE,
    createdAt: at,
    startedAt: at,
    finishedAt: null,
    counts: ZERO_COUNTS,
    planned: false,
    chunksTotal: 0,
    segments: [],
    preparedDetails: null,
    cancelRequested: false,
    waitingFor: null,
    tasks: [],
    etag: '',
    ...fields,
  };
}

/** The first chunk (rows 0–10 of a headerless lake blob x.csv of Segment_X) of a `send` step. */
export function chunkRange(fields: Partial<ChunkRange> = {}): ChunkRange {
  return {
    chunkId: chunkIdFor(0),
    step: 'send',
    segmentId: 'Segment_X',
    container: 'lake',
    blobName: 'x.csv',
    blobEtag: '"0x0"',
    start: 0,
    end: 10,
    delimiter: ',',
    columnHeaders: false,
    ...fields,
  };
}
