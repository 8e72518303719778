// The per-connection budgets over real Azurite: at most N calls in flight; a slot the calls keep
// busy stays with the process and one left idle goes back to the table; a slot another holder
// took is not written over; and a process's callers claiming rows or taking rate tokens together
// do not race each other for the same row (no write of theirs is refused).
import { randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../local/azurite.js';
import { ConcurrencyBudget, IDLE_SLOT_MS } from '../../shared/segmentSender/concurrencyBudget.js';
import { RateBudget } from '../../shared/segmentSender/rateBudget.js';
import { table } from '../../shared/storage/clients.js';
import { TABLES } from '../../shared/storage/names.js';

let azurite: RunningAzurite;
const saved = process.env.AzureWebJobsStorage;

beforeAll(async () => {
  azurite = await startAzurite();
  process.env.AzureWebJobsStorage = azurite.connectionString;
});

afterAll(async () => {
  if (saved === undefined) delete process.env.AzureWebJobsStorage;
  else process.env.AzureWebJobsStorage = saved;
  await azurite?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface SlotRow {
  holder: string;
  leaseUntil: number;
}

async function slotRows(key: string) {
  const client = await table(TABLES.rateBuckets);
  const rows: { rowKey: string; holder: string; etag: string }[] = [];
  for await (const row of client.listEntities<SlotRow>({ queryOptions: { filter: `PartitionKey eq 'slots-${key}'` } }))
    rows.push({ rowKey: row.rowKey!, holder: row.holder, etag: row.etag });
  return rows.sort((a, b) => a.rowKey.localeCompare(b.rowKey));
}

/**
 * The answers to requests for the budget `key`'s rows (and to inserts, whose row is in the body)
 * while `work` runs: how many, and how many the table refused.
 */
async function tableAnswers(key: string, work: () => Promise<unknown>): Promise<{ requests: number; refused: number }> {
  const counted = { requests: 0, refused: 0 };
  const onResponse = (message: unknown) => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    const path = decodeURIComponent(request.path.split('?')[0]!);
    if (!path.endsWith(`/${TABLES.rateBuckets}`) && !(path.includes(`/${TABLES.rateBuckets}(`) && path.includes(key))) return;
    counted.requests++;
    if (response.statusCode === 409 || response.statusCode === 412) counted.refused++;
  };
  subscribe('http.client.response.finish', onResponse);
  try {
    await work();
  } finally {
    unsubscribe('http.client.response.finish', onResponse);
  }
  return counted;
}

describe('ConcurrencyBudget', () => {
  it('holds at most N calls in flight, claiming rows one at a time without racing itself', async () => {
    const key = `limit-${randomUUID()}`;
    const budget = new ConcurrencyBudget(key, 3);
    let inFlight = 0;
    let most = 0;
    const answers = await tableAnswers(key, () =>
      Promise.all(
        Array.from({ length: 24 }, (_, index) =>
          budget.run(`caller-${index}`, async () => {
            most = Math.max(most, ++inFlight);
            await sleep(15);
            inFlight--;
          }),
        ),
      ),
    );
    expect(most).toBe(3);
    expect(answers.refused).toBe(0);
  });

  it('keeps a slot the calls keep busy, and gives it back once it has idled', async () => {
    const key = `warm-${randomUUID()}`;
    const budget = new ConcurrencyBudget(key, 2);
    await budget.run('first', async () => undefined);
    const [claimed] = await slotRows(key);
    expect(claimed!.holder).toMatch(/^pool-/);
    // Calls spaced well inside IDLE_SLOT_MS, for several times IDLE_SLOT_MS: the row is never written.
    const answers = await tableAnswers(key, async () => {
      for (let call = 0; call < 8; call++) {
        await sleep(IDLE_SLOT_MS / 4);
        await budget.run('again', async () => undefined);
      }
    });
    expect(answers.requests).toBe(0);
    expect(await slotRows(key)).toEqual([claimed]);
    await sleep(IDLE_SLOT_MS * 3);
    expect((await slotRows(key)).map((row) => row.holder)).toEqual(['']);
  });

  it('holds a slot without waiting, hands it to the next holder of the process without storage, and keeps others out meanwhile', async () => {
    const key = `held-${randomUUID()}`;
    const budget = new ConcurrencyBudget(key, 2);
    const first = await budget.tryHold();
    const second = await budget.tryHold();
    expect(first && second).toBeTruthy();
    // Every slot is held: the next one is refused at once, not waited for.
    const started = Date.now();
    expect(await budget.tryHold()).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(IDLE_SLOT_MS);
    first!();
    first!(); // given back twice: still one slot
    const answers = await tableAnswers(key, async () => {
      const third = await budget.tryHold();
      expect(third).toBeTruthy();
      expect(await budget.tryHold()).toBeUndefined();
      third!();
    });
    expect(answers.requests).toBe(0);
    // While the process keeps the slot idle, another process's claim finds none; once it has idled, it does.
    expect(await budget.tryAcquire('another-process')).toBeUndefined();
    await sleep(IDLE_SLOT_MS * 3);
    expect(await budget.tryAcquire('another-process')).toBeDefined();
    second!();
  });

  it('does not write over a slot another holder took once its lease was lost', async () => {
    const key = `taken-${randomUUID()}`;
    const budget = new ConcurrencyBudget(key, 1);
    const slot = await budget.tryAcquire('sender-a');
    expect(slot).toBe('000');
    const client = await table(TABLES.rateBuckets);
    await client.upsertEntity(
      { partitionKey: `slots-${key}`, rowKey: slot!, holder: 'sender-b', leaseUntil: Date.now() + 30_000 },
      'Replace',
    );
    expect(await budget.renew(slot!, 'sender-a')).toBe(false);
    await budget.release(slot!, 'sender-a');
    expect((await slotRows(key)).map((row) => row.holder)).toEqual(['sender-b']);
    // Its own holder renews and releases it.
    expect(await budget.renew(slot!, 'sender-b')).toBe(true);
    await budget.release(slot!, 'sender-b');
    expect((await slotRows(key)).map((row) => row.holder)).toEqual(['']);
  });
});

describe('RateBudget', () => {
  it("takes one block for a process's callers asking together, not one write each", async () => {
    const key = `rate-${randomUUID()}`;
    const budget = new RateBudget(key, { requestsPerSecond: 1000, burst: 1000 });
    const answers = await tableAnswers(key, () => Promise.all(Array.from({ length: 40 }, () => budget.take())));
    // One read and one insert of the bucket: a block is a tenth of a second's worth (100 tokens).
    expect(answers).toEqual({ requests: 2, refused: 0 });
  });
});
