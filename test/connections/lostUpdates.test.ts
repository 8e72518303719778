// Lost updates closed, over real Azurite and the Key Vault emulator: a connection's secrets change
// only together with its row (a row write that loses leaves the secret it had), two concurrent
// secret updates never mix, and detaching exports from a removed connection writes each export
// under its own ETag, so an edit made meanwhile is kept.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createConnection, readSecrets, updateConnection } from '../../shared/connections/manageConnections.js';
import { getConnection } from '../../shared/connections/connectionStore.js';
import { detachExportsFrom } from '../../shared/exports/manageExports.js';
import { TableClient } from '@azure/data-tables';
import { findExport, insertExport, listExports } from '../../shared/exports/exportStore.js';
import { TABLES } from '../../shared/storage/names.js';
import { secretStoreFromSettings } from '../../shared/secretStore.js';
import type { Principal } from '../../shared/auth/principal.js';
import { exportRecord } from '../support/engineRecords.js';
import { useLocalServices } from '../support/localServices.js';

const local = useLocalServices({ keyVault: true });
const ADMIN: Principal = { id: 'admin', name: 'Admin', roles: ['admin'] };

const newConnection = () =>
  createConnection(ADMIN, {
    name: 'CM',
    type: 'campaign-monitor',
    settings: {},
    secrets: { apiKey: 'first-key-us1' },
    sharing: 'adminsOnly',
    limits: {},
    privacyConsent: true,
  } as never);

describe("updating a connection's secrets", () => {
  it('leaves the stored secret as it was when the row write loses (a stale If-Match)', async () => {
    const connection = await newConnection();
    await updateConnection(ADMIN, connection.id, { name: 'Renamed' }, connection.etag);
    await expect(updateConnection(ADMIN, connection.id, { secrets: { apiKey: 'second-key-us1' } }, connection.etag)).rejects.toMatchObject({
      status: 412,
    });
    const latest = await getConnection(connection.id);
    expect(await readSecrets(latest)).toEqual({ apiKey: 'first-key-us1' });
  });

  it("never mixes two concurrent updates: the row and its secret are one update's, and the loser's secret is removed", async () => {
    const connection = await newConnection();
    const tags = ['a', 'b', 'c', 'd'];
    const attempts = await Promise.allSettled(
      tags.map((tag) => updateConnection(ADMIN, connection.id, { secrets: { apiKey: `key-${tag}-us1` } }, undefined)),
    );
    const latest = await getConnection(connection.id);
    const winner = attempts.findIndex((attempt) => attempt.status === 'fulfilled' && attempt.value.etag === latest.etag);
    expect(winner, 'the row is one successful update').toBeGreaterThanOrEqual(0);
    // The secret the row points at is the winner's own, not whichever update wrote Key Vault last.
    expect(await readSecrets(latest)).toEqual({ apiKey: `key-${tags[winner]}-us1` });
    // Only the row's secret remains of the rotated ones; the first is gone too.
    for (const attempt of attempts) {
      if (attempt.status !== 'fulfilled') continue;
      const name = (attempt.value as { secretName: string }).secretName;
      if (name !== latest.secretName) expect(await secretStoreFromSettings().get(name)).toBeUndefined();
    }
    expect(await secretStoreFromSettings().get(connection.secretName)).toBeUndefined();
  });
});

describe('detaching exports from a removed connection', () => {
  it('writes each export under its own ETag: an edit made after the list was read is kept', async () => {
    const connection = await newConnection();
    const record = await insertExport(
      exportRecord({ id: randomUUID(), name: 'Before', connectionId: connection.id, schedule: { active: true, mode: 'systemRefresh' } }),
    );
    // This instance's copy of the list is read…
    expect((await listExports()).some((listed) => listed.id === record.id)).toBe(true);
    // …then another instance renames the export (its version bump not seen here yet), and only
    // then the detach writes: from the copy with '*', the rename would be lost.
    const elsewhere = TableClient.fromConnectionString(local.azurite.connectionString, TABLES.exports, { allowInsecureConnection: true });
    await elsewhere.updateEntity({ partitionKey: 'export', rowKey: record.id, name: 'Renamed meanwhile' }, 'Merge', { etag: record.etag });
    expect(await detachExportsFrom(connection.id)).toBe(1);
    expect(await findExport(record.id)).toMatchObject({ name: 'Renamed meanwhile', connectionId: null, schedule: { active: false } });
  });
});
