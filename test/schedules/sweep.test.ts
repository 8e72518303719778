// The scheduler against real Azurite tables with an injected clock: custom due times fire once
// (also with concurrent sweeps), system refreshes start exports on the default schedule, runs wait
// for running dependencies and are released or skipped when they end, and the bulk edit is
// all-or-nothing.
import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Principal } from '../../shared/auth/principal.js';
import type { ConnectionRecord } from '../../shared/connections/connection.js';
import { insertConnection } from '../../shared/connections/connectionStore.js';
import type { ExportRecord, Schedule } from '../../shared/exports/exportDefinition.js';
import { getExport, insertExport, replaceExport, exportListCache } from '../../shared/exports/exportStore.js';
import { reportRefresh, updateRefresh } from '../../shared/refreshes/manageRefreshes.js';
import { finishRunEarly } from '../../shared/runs/finalizeRun.js';
import { getRun, listRuns, updateRun } from '../../shared/runs/runStore.js';
import type { RunRecord } from '../../shared/runs/run.js';
import { editSchedules } from '../../shared/schedules/editSchedules.js';
import { claimMark, dueKeyForTime, findMark, markBlocked, markFired } from '../../shared/schedules/scheduleMarks.js';
import { sweepSchedules } from '../../shared/schedules/sweepSchedules.js';
import { table } from '../../shared/storage/clients.js';
import { TABLES } from '../../shared/storage/names.js';
import { Unprocessable } from '../../shared/errors.js';
import { connectionRecord, exportRecord } from '../support/engineRecords.js';
import { useLocalServices } from '../support/localServices.js';

const UPSTREAM: Principal = { id: 'upstream', name: 'Upstream', roles: ['system'] };
const ADMIN: Principal = { id: 'alice', name: 'Alice', roles: ['admin'] };
const CONTRIBUTOR: Principal = { id: 'bob', name: 'Bob', roles: ['contributor'] };
/** Default definition time: before every clock used below. */
const DEFINED_AT = '2030-01-01T00:00:00.000Z';

useLocalServices();

beforeEach(async () => {
  // Each test sees only its own exports and refreshes.
  for (const name of [TABLES.exports, TABLES.refreshes]) {
    const client = await table(name);
    const deleted: string[] = [];
    for await (const row of client.listEntities()) {
      await client.deleteEntity(row.partitionKey!, row.rowKey!);
      if (row.partitionKey === 'export') deleted.push(row.rowKey!);
    }
    // Written past the export store: the in-process export list is told, as the store would.
    if (name === TABLES.exports) await exportListCache.written(client, deleted);
  }
});

/** An export as stored; `definedAt` is when its schedule took effect (earlier due times never fire). */
async function anExport(
  schedule: Schedule,
  options: { segments?: string[]; connectionId?: string | null; definedAt?: string } = {},
): Promise<ExportRecord> {
  return insertExport(
    exportRecord({
      id: randomUUID(),
      name: `Export ${randomUUID().slice(0, 6)}`,
      connectionId: options.connectionId === undefined ? 'connection-1' : options.connectionId,
      segments: options.segments ?? ['Segment_AllCustomers'],
      details: { listId: 'list' },
      schedule,
      createdAt: options.definedAt ?? DEFINED_AT,
    }),
  );
}

const dailyAt10Oslo: Schedule = {
  active: true,
  mode: 'custom',
  recurrence: { frequency: 'daily', interval: 1, time: '10:00', timeZone: 'Europe/Oslo' },
};
const onSystemRefresh: Schedule = { active: true, mode: 'systemRefresh' };

async function runsOf(exportId: string): Promise<RunRecord[]> {
  return (await listRuns(exportId, 100)).runs;
}

/** Ends the export's active run, as the finalizer would. */
async function endActiveRun(exportId: string): Promise<void> {
  const record = await getExport(exportId);
  await finishRunEarly(await getRun(exportId, record.activeRunId!), 'cancelled', 'Ended by the test.');
}

describe('custom schedules', () => {
  it('fire at their due time, once', async () => {
    const record = await anExport(dailyAt10Oslo, { definedAt: '2030-06-03T00:00:00Z' });
    // 10:00 in Oslo on 3 June 2030 is 08:00Z (summer time).
    expect(
      (await sweepSchedules(new Date('2030-06-03T07:59:30Z'))).fired.filter(
        (fired) => fired.exportId === record.id && fired.dueKey.includes('2030-06-03'),
      ),
    ).toEqual([]);
    const atDue = await sweepSchedules(new Date('2030-06-03T08:00:01Z'));
    expect(atDue.fired).toEqual([
      expect.objectContaining({ exportId: record.id, dueKey: dueKeyForTime(new Date('2030-06-03T08:00:00Z')), result: 'started' }),
    ]);
    const later = await sweepSchedules(new Date('2030-06-03T08:01:00Z'));
    expect(later.fired).toEqual([]);
    const runs = await runsOf(record.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ trigger: 'schedule', status: 'queued', requestedBy: { id: 'scheduler' } });
  });

  it('fire a due time once when several sweeps run at the same moment', async () => {
    const records = await Promise.all(Array.from({ length: 8 }, () => anExport(dailyAt10Oslo, { definedAt: '2030-06-04T00:00:00Z' })));
    const now = new Date('2030-06-04T08:00:02Z');
    const sweeps = await Promise.all([sweepSchedules(now), sweepSchedules(now), sweepSchedules(now)]);
    const started = sweeps.flatMap((sweep) => sweep.fired).filter((fired) => fired.result === 'started');
    expect(started).toHaveLength(records.length);
    for (const record of records) {
      expect(started.filter((fired) => fired.exportId === record.id)).toHaveLength(1);
      expect(await runsOf(record.id)).toHaveLength(1);
    }
    expect(sweeps.flatMap((sweep) => sweep.errors)).toEqual([]);
  });

  it('make up a missed due time once, for the latest one only', async () => {
    const record = await anExport(dailyAt10Oslo, { definedAt: '2030-06-10T00:00:00Z' });
    // The timer was down for three days.
    const back = await sweepSchedules(new Date('2030-06-13T12:00:00Z'));
    expect(back.fired).toEqual([
      expect.objectContaining({ exportId: record.id, dueKey: dueKeyForTime(new Date('2030-06-13T08:00:00Z')), result: 'started' }),
    ]);
    expect(await runsOf(record.id)).toHaveLength(1);
  });

  it('keep one fire mark per export: a due time that fires removes the earlier settled ones', async () => {
    const record = await anExport(dailyAt10Oslo, { definedAt: '2030-07-01T00:00:00Z' });
    const marks = async () => {
      const keys: string[] = [];
      for await (const row of (await table(TABLES.scheduleMarks)).listEntities({
        queryOptions: { filter: `PartitionKey eq '${record.id}'` },
      }))
        keys.push(row.rowKey!);
      return keys;
    };
    for (const day of ['01', '02', '03']) {
      await sweepSchedules(new Date(`2030-07-${day}T08:00:05Z`));
      await endActiveRun(record.id);
    }
    expect(await runsOf(record.id)).toHaveLength(3);
    expect(await marks()).toEqual([dueKeyForTime(new Date('2030-07-03T08:00:00Z'))]);
    // The next sweep the same day still finds that due time fired: nothing starts again.
    expect((await sweepSchedules(new Date('2030-07-03T09:00:00Z'))).fired).toEqual([]);
    expect(await runsOf(record.id)).toHaveLength(3);
  });

  it('never fire for an inactive export or one without a connection', async () => {
    const inactive = await anExport({ ...dailyAt10Oslo, active: false });
    const disconnected = await anExport(dailyAt10Oslo, { connectionId: null });
    await sweepSchedules(new Date('2030-06-05T08:00:02Z'));
    expect(await runsOf(inactive.id)).toEqual([]);
    expect(await runsOf(disconnected.id)).toEqual([]);
  });

  it('wait for a run in progress, then start once it has ended; join a run that has not started', async () => {
    const busy = await anExport(dailyAt10Oslo, { definedAt: '2030-06-06T00:00:00Z' });
    const queued = await anExport(dailyAt10Oslo, { definedAt: '2030-06-06T00:00:00Z' });
    const { startRun } = await import('../../shared/runs/startRun.js');
    const sending = await startRun(ADMIN, busy.id, 'manual');
    await updateRun(busy.id, sending.id, (run) => ({ ...run, status: 'running' }));
    const notYetPlanned = await startRun(ADMIN, queued.id, 'manual');

    const first = await sweepSchedules(new Date('2030-06-06T08:00:01Z'));
    expect(first.fired.find((fired) => fired.exportId === busy.id)).toMatchObject({ result: 'blocked' });
    expect(first.fired.find((fired) => fired.exportId === queued.id)).toMatchObject({ result: 'joined', runId: notYetPlanned.id });

    expect((await sweepSchedules(new Date('2030-06-06T08:01:01Z'))).fired).toEqual([]);
    await endActiveRun(busy.id);
    const afterwards = await sweepSchedules(new Date('2030-06-06T08:02:01Z'));
    expect(afterwards.fired).toEqual([expect.objectContaining({ exportId: busy.id, result: 'started' })]);
    expect((await runsOf(busy.id)).map((run) => run.trigger).sort()).toEqual(['manual', 'schedule']);
    expect(await runsOf(queued.id)).toHaveLength(1);
  });

  it('are taken over when the sweep that claimed them stopped before starting the run', async () => {
    const record = await anExport(dailyAt10Oslo, { definedAt: '2030-06-07T00:00:00Z' });
    const dueKey = dueKeyForTime(new Date('2030-06-07T08:00:00Z'));
    expect(await claimMark(record.id, dueKey, new Date('2030-06-07T08:00:01Z'))).toEqual({ claimed: true, etag: expect.any(String) });
    // Within the lease nobody else fires it…
    expect((await sweepSchedules(new Date('2030-06-07T08:01:00Z'))).fired).toEqual([]);
    // …after it, the next sweep does.
    const taken = await sweepSchedules(new Date('2030-06-07T08:03:00Z'));
    expect(taken.fired).toEqual([expect.objectContaining({ exportId: record.id, result: 'started' })]);
    expect(await findMark(record.id, dueKey)).toMatchObject({ state: 'fired', runId: taken.fired[0]!.runId });
  });

  it('are settled only while the claim is held: a holder slower than its lease cannot overwrite the take-over', async () => {
    const record = await anExport(dailyAt10Oslo, { definedAt: '2030-06-10T00:00:00Z' });
    const dueKey = dueKeyForTime(new Date('2030-06-10T08:00:00Z'));
    const slow = await claimMark(record.id, dueKey, new Date('2030-06-10T08:00:01Z'));
    if (!slow.claimed) throw new Error('expected the first claim to win');
    const taken = await sweepSchedules(new Date('2030-06-10T08:03:00Z'));
    expect(taken.fired).toEqual([expect.objectContaining({ exportId: record.id, result: 'started' })]);
    // The first holder wakes up and records what it saw then: refused, the take-over's outcome stays.
    expect(await markBlocked(record.id, dueKey, slow.etag, 'A run was in progress.')).toBe(false);
    expect(await markFired(record.id, dueKey, slow.etag, 'someone-else')).toBe(false);
    expect(await findMark(record.id, dueKey)).toMatchObject({ state: 'fired', runId: taken.fired[0]!.runId });
  });

  it('do not fire a due time from before the export was last changed', async () => {
    const record = await anExport(dailyAt10Oslo);
    await replaceExport({ ...record, updatedAt: '2030-06-08T08:30:00.000Z' }, record.etag);
    expect((await sweepSchedules(new Date('2030-06-08T09:00:00Z'))).fired).toEqual([]);
    expect((await sweepSchedules(new Date('2030-06-09T08:00:05Z'))).fired).toEqual([
      expect.objectContaining({ exportId: record.id, result: 'started' }),
    ]);
  });
});

describe('the default schedule (system refresh)', () => {
  it("starts the exports a successful segments refresh touched, in the refresh's own request, and the sweep does not start them again", async () => {
    const touched = await anExport(onSystemRefresh, { segments: ['Segment_VIP'] });
    const other = await anExport(onSystemRefresh, { segments: ['Segment_LapsedBuyers'] });
    const custom = await anExport(
      { ...dailyAt10Oslo, recurrence: { ...dailyAt10Oslo.recurrence, time: '23:00' } },
      { segments: ['Segment_VIP'], definedAt: '2030-07-01T00:00:00Z' },
    );
    const started = new Date('2030-07-01T12:00:00Z');
    const { refresh } = await reportRefresh(
      UPSTREAM,
      { process: 'segments', status: 'running', entities: [], segments: ['segment_vip'] },
      started,
    );
    const ended = await updateRefresh(UPSTREAM, refresh.id, { status: 'succeeded' }, refresh.etag, new Date('2030-07-01T12:05:00Z'));
    expect(ended.effects!.fired).toEqual([expect.objectContaining({ exportId: touched.id, result: 'started' })]);
    expect((await runsOf(touched.id)).map((run) => run.trigger)).toEqual(['systemRefresh']);
    expect(await runsOf(other.id)).toEqual([]);
    expect(await runsOf(custom.id)).toEqual([]);
    expect((await sweepSchedules(new Date('2030-07-01T12:06:00Z'))).fired).toEqual([]);
    expect(await runsOf(touched.id)).toHaveLength(1);
  });

  it("is caught by the sweep when the refresh's own request did not start it, for the latest refresh only", async () => {
    const record = await anExport(onSystemRefresh, { segments: ['Segment_LoyalMembers'] });
    const { insertRefresh, newRefreshId } = await import('../../shared/refreshes/refreshStore.js');
    const ended = (at: string) => ({
      id: newRefreshId(new Date(at)),
      process: 'segments',
      status: 'succeeded' as const,
      entities: [],
      segments: ['Segment_LoyalMembers'],
      reason: null,
      reportedBy: { id: 'upstream', name: 'Upstream' },
      startedAt: at,
      finishedAt: at,
      updatedAt: at,
      etag: '',
    });
    await insertRefresh(ended('2030-07-02T10:00:00.000Z'));
    const latest = await insertRefresh(ended('2030-07-02T11:00:00.000Z'));
    const sweep = await sweepSchedules(new Date('2030-07-02T11:00:30Z'));
    expect(sweep.fired).toEqual([expect.objectContaining({ exportId: record.id, dueKey: `refresh-${latest.id}`, result: 'started' })]);
    await endActiveRun(record.id);
    expect((await sweepSchedules(new Date('2030-07-02T11:01:30Z'))).fired).toEqual([]);
    expect(await runsOf(record.id)).toHaveLength(1);
  });

  it('treats a refresh that names nothing as touching every export', async () => {
    const record = await anExport(onSystemRefresh, { segments: ['Segment_NewsletterNorway'] });
    const result = await reportRefresh(
      UPSTREAM,
      { process: 'segments', status: 'succeeded', entities: [], segments: [] },
      new Date('2030-07-03T10:00:00Z'),
    );
    expect(result.effects!.fired).toEqual([expect.objectContaining({ exportId: record.id, result: 'started' })]);
  });
});

describe('dependency gating', () => {
  it('creates the run waiting while a dependency runs, and releases it when that refresh succeeds', async () => {
    const record = await anExport(dailyAt10Oslo, { segments: ['Segment_VIP'], definedAt: '2030-08-01T00:00:00Z' });
    const { refresh: measures } = await reportRefresh(
      UPSTREAM,
      { process: 'measures', status: 'running', entities: [], segments: ['Segment_VIP'] },
      new Date('2030-08-01T07:30:00Z'),
    );
    const due = await sweepSchedules(new Date('2030-08-01T08:00:01Z'));
    expect(due.fired).toEqual([expect.objectContaining({ exportId: record.id, result: 'waiting' })]);
    const waiting = await getRun(record.id, due.fired[0]!.runId!);
    expect(waiting).toMatchObject({ status: 'waiting', waitingFor: measures.id, trigger: 'schedule' });
    expect(waiting.reason).toContain(measures.id);

    // Still running at the next sweep: still waiting.
    expect((await sweepSchedules(new Date('2030-08-01T08:01:01Z'))).released).toEqual([]);
    const ended = await updateRefresh(UPSTREAM, measures.id, { status: 'succeeded' }, undefined, new Date('2030-08-01T08:01:30Z'));
    expect(ended.effects!.released).toEqual([waiting.id]);
    expect(await getRun(record.id, waiting.id)).toMatchObject({ status: 'queued', waitingFor: null, reason: null });
  });

  it('waits for every running dependency in turn', async () => {
    const record = await anExport(dailyAt10Oslo, { segments: ['Segment_VIP'], definedAt: '2030-08-02T00:00:00Z' });
    const { refresh: first } = await reportRefresh(
      UPSTREAM,
      { process: 'measures', status: 'running', entities: [], segments: ['Segment_VIP'] },
      new Date('2030-08-02T07:00:00Z'),
    );
    const { refresh: second } = await reportRefresh(
      UPSTREAM,
      { process: 'ingestion', status: 'running', entities: [], segments: [] },
      new Date('2030-08-02T07:10:00Z'),
    );
    const due = await sweepSchedules(new Date('2030-08-02T08:00:01Z'));
    const runId = due.fired[0]!.runId!;
    expect(await getRun(record.id, runId)).toMatchObject({ status: 'waiting', waitingFor: first.id });
    await updateRefresh(UPSTREAM, first.id, { status: 'succeeded' }, undefined, new Date('2030-08-02T08:10:00Z'));
    expect(await getRun(record.id, runId)).toMatchObject({ status: 'waiting', waitingFor: second.id });
    await updateRefresh(UPSTREAM, second.id, { status: 'succeeded' }, undefined, new Date('2030-08-02T08:20:00Z'));
    expect((await getRun(record.id, runId)).status).toBe('queued');
  });

  it('skips the waiting run with the reason when the dependency fails', async () => {
    const record = await anExport(onSystemRefresh, { segments: ['Segment_LapsedBuyers'] });
    const { refresh: unification } = await reportRefresh(
      UPSTREAM,
      { process: 'unification', status: 'running', entities: ['Segment_LapsedBuyers'], segments: [] },
      new Date('2030-08-03T09:00:00Z'),
    );
    const segments = await reportRefresh(
      UPSTREAM,
      { process: 'segments', status: 'succeeded', entities: [], segments: ['Segment_LapsedBuyers'] },
      new Date('2030-08-03T09:05:00Z'),
    );
    expect(segments.effects!.fired).toEqual([expect.objectContaining({ exportId: record.id, result: 'waiting' })]);
    const runId = segments.effects!.fired[0]!.runId!;
    const failed = await updateRefresh(
      UPSTREAM,
      unification.id,
      { status: 'failed', reason: 'source system timed out' },
      undefined,
      new Date('2030-08-03T09:10:00Z'),
    );
    expect(failed.effects!.skipped).toEqual([runId]);
    const run = await getRun(record.id, runId);
    expect(run.status).toBe('skipped');
    expect(run.reason).toContain(`unification refresh ${unification.id}`);
    expect(run.reason).toContain('source system timed out');
    expect((await getExport(record.id)).activeRunId).toBeNull();
  });

  it('skips a run whose refresh reported no end within 24 hours', async () => {
    const record = await anExport(dailyAt10Oslo, { segments: ['Segment_VIP'], definedAt: '2030-08-04T00:00:00Z' });
    await reportRefresh(
      UPSTREAM,
      { process: 'measures', status: 'running', entities: [], segments: ['Segment_VIP'] },
      new Date('2030-08-04T07:00:00Z'),
    );
    const due = await sweepSchedules(new Date('2030-08-04T08:00:01Z'));
    const runId = due.fired[0]!.runId!;
    const dayLater = await sweepSchedules(new Date('2030-08-05T07:00:01Z'));
    expect(dayLater.skipped).toEqual([runId]);
    expect((await getRun(record.id, runId)).reason).toContain('no end within 24 hours');
  });
});

describe('refreshes', () => {
  it('keep their outcome: a repeated status is a no-op, another one is a conflict', async () => {
    const { refresh } = await reportRefresh(UPSTREAM, { process: 'ingestion', status: 'running', entities: ['Contact'], segments: [] });
    const ended = await updateRefresh(UPSTREAM, refresh.id, { status: 'failed', reason: 'bad file' }, refresh.etag);
    expect(ended.refresh).toMatchObject({ status: 'failed', reason: 'bad file' });
    expect((await updateRefresh(UPSTREAM, refresh.id, { status: 'failed' }, undefined)).refresh.etag).toBe(ended.refresh.etag);
    await expect(updateRefresh(UPSTREAM, refresh.id, { status: 'succeeded' }, undefined)).rejects.toThrow(/already ended/);
    await expect(updateRefresh(UPSTREAM, refresh.id, { status: 'succeeded' }, '"stale"')).rejects.toThrow(/changed/);
  });
});

describe('bulk schedule edit', () => {
  async function aConnection(sharing: 'adminsOnly' | 'contributors'): Promise<ConnectionRecord> {
    return insertConnection(
      connectionRecord({ id: randomUUID(), name: `CM ${sharing}`, secretName: 'unused', sharing, createdAt: DEFINED_AT }),
    );
  }

  it('keep switches only on/off; override replaces every schedule', async () => {
    const shared = await aConnection('contributors');
    const custom = await anExport(dailyAt10Oslo, { connectionId: shared.id });
    const refresh = await anExport(onSystemRefresh, { connectionId: shared.id });
    const off = await editSchedules(CONTRIBUTOR, { exportIds: [custom.id, refresh.id], mode: 'keep', active: false });
    expect(off.map(({ record }) => record.schedule)).toEqual([
      { ...dailyAt10Oslo, active: false },
      { ...onSystemRefresh, active: false },
    ]);
    expect((await getExport(custom.id)).schedule).toEqual({ ...dailyAt10Oslo, active: false });

    const weekly: Schedule = {
      active: true,
      mode: 'custom',
      recurrence: { frequency: 'weekly', interval: 1, daysOfWeek: ['monday'], time: '06:00', timeZone: 'America/New_York' },
    };
    await editSchedules(ADMIN, { exportIds: [custom.id, refresh.id], mode: 'override', schedule: weekly });
    expect((await getExport(custom.id)).schedule).toEqual(weekly);
    expect((await getExport(refresh.id)).schedule).toEqual(weekly);
  });

  it('is all-or-nothing, with an error for each export that is not allowed', async () => {
    const shared = await aConnection('contributors');
    const adminsOnly = await aConnection('adminsOnly');
    const allowed = await anExport({ ...dailyAt10Oslo, active: false }, { connectionId: shared.id });
    const forbidden = await anExport({ ...dailyAt10Oslo, active: false }, { connectionId: adminsOnly.id });
    const missing = 'no-such-export-0000';
    const error = await editSchedules(CONTRIBUTOR, { exportIds: [allowed.id, forbidden.id, missing], mode: 'keep', active: true }).catch(
      (caught) => caught,
    );
    expect(error).toBeInstanceOf(Unprocessable);
    expect(error.extensions.errors).toEqual([
      expect.objectContaining({ exportId: forbidden.id, path: 'body.exportIds.1', message: expect.stringContaining('not change it') }),
      expect.objectContaining({ exportId: missing, path: 'body.exportIds.2', message: expect.stringContaining('does not exist') }),
    ]);
    expect((await getExport(allowed.id)).schedule.active).toBe(false);
  });
});
