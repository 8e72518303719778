// What a sender does when it cannot even start sending a chunk, over real Azurite and the Key
// Vault emulator: it gives the chunk back with the reason so the queue's retries and poison queue
// end it (it used to keep its lease, and every retry only re-queued the chunk: a run that never
// ended); Key Vault out of reach is waited out (queued again for later) for up to 15 minutes; and
// while Key Vault is unreachable it sends with the secrets it last read.
import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { QueueClient } from '@azure/storage-queue';
import { insertConnection } from '../../shared/connections/connectionStore.js';
import { insertExport } from '../../shared/exports/exportStore.js';
import { secretStoreFromSettings } from '../../shared/secretStore.js';
import { sendChunk } from '../../shared/segmentSender/sendChunk.js';
import { destinationAccess } from '../../shared/runs/destinationAccess.js';
import { SECRETS_OUTAGE_LIMIT_MS } from '../../shared/runs/secretsOutage.js';
import { failPoisonedChunk } from '../../shared/runs/poisonedWork.js';
import { chunkIdFor, getChunk, recordPlannedChunks } from '../../shared/runs/runLedger.js';
import { getRun, insertRun, newRunId } from '../../shared/runs/runStore.js';
import { QUEUES } from '../../shared/storage/names.js';
import { chunkRange, connectionRecord, exportRecord, runRecord } from '../support/engineRecords.js';
import { useLocalServices } from '../support/localServices.js';

const local = useLocalServices({ keyVault: true });

/** A connection with its secret, an export mapping `mapping`, and a planned run of one chunk. */
async function plannedRun(mapping: Record<string, string>) {
  const now = new Date().toISOString();
  const connectionId = randomUUID();
  const secretName = `connection-${connectionId}`;
  await secretStoreFromSettings().set(secretName, JSON.stringify({ apiKey: 'cached-key' }));
  await insertConnection(connectionRecord({ id: connectionId, name: 'CM', secretName, secretFields: ['apiKey'], createdAt: now }));
  const stored = await insertExport(
    exportRecord({ id: randomUUID(), name: 'Sender setup', connectionId, mapping, details: { listId: 'list' }, createdAt: now }),
  );
  const run = await insertRun(
    runRecord({
      id: newRunId(),
      exportId: stored.id,
      createdAt: now,
      planned: true,
      chunksTotal: 1,
      segments: [
        {
          segmentId: 'Segment_X',
          segmentName: 'X',
          type: 'Profile',
          entity: 'Segment_X',
          attributes: ['Email', 'FirstName'],
          memberCount: 1,
        },
      ],
      tasks: [
        { name: 'plan', status: 'succeeded', startedAt: now, finishedAt: now },
        { name: 'send', status: 'running', startedAt: now, finishedAt: null },
        { name: 'finalize', status: 'pending', startedAt: null, finishedAt: null },
      ],
    }),
  );
  const chunkId = chunkIdFor(0);
  await recordPlannedChunks(run.id, [chunkRange({ chunkId, blobName: 'never-read.csv', end: 100 })]);
  return { connectionId, secretName, message: { exportId: stored.id, runId: run.id, chunkId } };
}

async function queuedChunkMessages(): Promise<number> {
  const queue = new QueueClient(local.azurite.connectionString, QUEUES.exportChunks);
  if (!(await queue.exists())) return 0;
  return (await queue.getProperties()).approximateMessagesCount ?? 0;
}

describe('a sender that cannot start a chunk', () => {
  it('gives the chunk back with the reason, so its retries and the poison queue end the run', async () => {
    // The planned segment has no such attribute (e.g. the mapping was changed during the run).
    const { message } = await plannedRun({ email: 'Email', firstName: 'Nickname' });
    for (let attempt = 1; attempt <= 2; attempt++) {
      await expect(sendChunk(message)).rejects.toThrow(/Nickname/);
      const chunk = (await getChunk(message.runId, message.chunkId))!;
      expect(chunk.leaseUntil, `attempt ${attempt}: the lease is released`).toBe(0);
      expect(chunk.reason).toMatch(/^Attempt failed: .*Nickname/);
    }
    // Each attempt failed (spending a dequeue) instead of re-queueing itself behind its own lease.
    expect(await queuedChunkMessages()).toBe(0);
    await failPoisonedChunk(message);
    expect((await getChunk(message.runId, message.chunkId))!.status).toBe('failed');
    const run = await getRun(message.exportId, message.runId);
    expect(run.status).toBe('failed');
    expect(run.reason).toMatch(/1 of 1 chunks failed: Chunk c\d+ failed 5 times; last error: .*Nickname/);
  });

  it(
    'gives the chunk back and queues it again for later when Key Vault is down and no secret was read yet',
    { timeout: 60_000 },
    async () => {
      const { message } = await plannedRun({ email: 'Email' });
      const queuedBefore = await queuedChunkMessages();
      local.keyVault.setAvailable(false);
      try {
        // Waited out, not failed: the queue's own five attempts would be spent in about a minute.
        await expect(sendChunk(message)).resolves.toBeUndefined();
      } finally {
        local.keyVault.setAvailable(true);
      }
      const chunk = (await getChunk(message.runId, message.chunkId))!;
      // Not claimed: a sender claims its chunk only once it can send (secrets read, a sender slot held).
      expect(chunk.leaseUntil).toBe(0);
      expect(chunk.status).toBe('pending');
      expect(chunk.reason).toBe('Waiting for Key Vault to answer.');
      expect(await queuedChunkMessages()).toBe(queuedBefore + 1);
      await new QueueClient(local.azurite.connectionString, QUEUES.exportChunks).clearMessages();
    },
  );

  it('fails the attempt with the reason once Key Vault has been out of reach for the whole limit', { timeout: 60_000 }, async () => {
    const { message } = await plannedRun({ email: 'Email' });
    local.keyVault.setAvailable(false);
    try {
      await expect(sendChunk({ ...message, secretsUnavailableSince: Date.now() - SECRETS_OUTAGE_LIMIT_MS })).rejects.toThrow(
        /Key Vault get of secret/,
      );
    } finally {
      local.keyVault.setAvailable(true);
    }
    const chunk = (await getChunk(message.runId, message.chunkId))!;
    expect(chunk.leaseUntil).toBe(0);
    expect(chunk.reason).toMatch(/^Attempt failed: Key Vault get of secret .* failed \(503/);
    expect(await queuedChunkMessages()).toBe(0);
  });
});

describe('secrets while Key Vault is unreachable', () => {
  it('uses the secrets last read once they are stale, but not when asked for fresh ones', { timeout: 60_000 }, async () => {
    const { connectionId } = await plannedRun({ email: 'Email' });
    expect((await destinationAccess(connectionId, {})).call.secrets).toEqual({ apiKey: 'cached-key' });
    local.keyVault.setAvailable(false);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 61_000); // past the cache's minute
      expect((await destinationAccess(connectionId, {})).call.secrets).toEqual({ apiKey: 'cached-key' });
      // After an auth error the sender asks for fresh secrets: a stale one would only fail again.
      await expect(destinationAccess(connectionId, {}, { fresh: true })).rejects.toThrow(/503/);
    } finally {
      vi.useRealTimers();
      local.keyVault.setAvailable(true);
    }
  });
});
