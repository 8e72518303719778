// The API's answers the console reads (GET /api/openapi.json has the full contract).
export type Schedule = { active: boolean; mode: 'systemRefresh' } | { active: boolean; mode: 'custom'; recurrence: Recurrence };

export interface Recurrence {
  frequency: 'hourly' | 'daily' | 'weekly' | 'monthly';
  interval: number;
  daysOfWeek?: string[];
  dayOfMonth?: number;
  time: string;
  timeZone: string;
}

export interface ExportView {
  id: string;
  name: string;
  connectionId: string | null;
  connectionName: string;
  connectionType: string;
  kind: 'segment' | 'dataOut';
  segments: string[];
  mapping: Record<string, string>;
  details: Record<string, unknown>;
  entities: string[];
  schedule: Schedule;
  status: 'active' | 'inactive' | 'noConnection';
  lastRefreshed: string | null;
  lastRunStatus: string | null;
  nextRun: string | null;
  activeRunId: string | null;
  yourPermissions: 'edit' | 'view';
  createdAt: string;
  updatedAt: string;
  etag: string;
  runId?: string;
}

export interface CatalogField {
  name: string;
  type: string;
  required: boolean;
  secret: boolean;
  description?: string;
}

export interface CatalogEntry {
  type: string;
  displayName: string;
  connectionFields: CatalogField[];
  exportDetails: CatalogField[];
  dataMatching: { name: string; label: string; required: boolean; description?: string }[];
  eligibleSegmentTypes: string[];
  exportKinds: ('segment' | 'dataOut')[];
  limits: { maxMembersPerExport: number };
}

export interface ConnectionView {
  id: string;
  name: string;
  type: string;
  settings: Record<string, unknown>;
  secretsSet: string[];
  sharing: 'adminsOnly' | 'contributors';
  exportUser: { id: string; name: string };
  privacyConsent: { acceptedBy: string; acceptedAt: string };
  createdAt: string;
  etag: string;
}

export interface SegmentView {
  id: string;
  name: string;
  type: string;
  memberCount: number;
  eligible?: boolean;
  reason?: string;
  warning?: string;
}

export interface EntityView {
  name: string;
  attributes: { name: string; dataType: string }[];
}

export interface RunCounts {
  members: number;
  sent: number;
  succeeded: number;
  failed: number;
  skipped: number;
}

export interface RunTask {
  name: string;
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
  counts?: RunCounts;
  chunks?: { total: number; done: number; failed: number };
  membersPerSecond?: number;
  etaSeconds?: number | null;
  detail?: string;
}

export interface RunView {
  id: string;
  exportId: string;
  trigger: string;
  status: string;
  reason?: string;
  requestedBy: { id: string; name: string };
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  counts: RunCounts;
  tasks: RunTask[];
  waitingFor?: string;
  prediction?: { members: number; calls: number; rateCalls: number; predictedSeconds: number };
  actualSeconds?: number | null;
  provenance?: { lake: { etag: string; lastModified: string } | null; refreshId: string | null };
}

export interface RecordOutcome {
  email: string;
  status: string;
  category: string;
  code: string;
  message: string;
  segmentId: string;
}

export const TERMINAL_RUN_STATUSES = ['succeeded', 'partiallySucceeded', 'failed', 'skipped', 'cancelled'];
