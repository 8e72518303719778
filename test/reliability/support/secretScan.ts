// Looks for known secret values everywhere a test run leaves text behind: every row of every
// table (audit included), every message of every queue (poison queues included, base64 decoded),
// Outflow's working blobs, every API response the tests received and every host log line.
// Call it at the end of a suite: it stops the host first so queue messages can be read whole.
import { TableClient, TableServiceClient } from '@azure/data-tables';
import { QueueServiceClient } from '@azure/storage-queue';
import { BlobServiceClient } from '@azure/storage-blob';
import { CONTAINERS } from '../../../shared/storage/names.js';
import type { TestStack } from '../../support/testStack.js';

export interface SecretScan {
  tables: number;
  tableRows: number;
  queues: number;
  queueMessages: number;
  blobs: number;
  responses: number;
  logLines: number;
  /** Where a secret was found, e.g. "table audit row 2026-11/…"; empty when clean. */
  findings: string[];
}

/** Forms a secret may take in stored text: as is, JSON-escaped, base64 (Basic auth headers). */
function formsOf(secret: string): string[] {
  // A Basic auth header that starts with the secret (the key as user name) starts with the base64
  // of its first whole 3-byte groups.
  const aligned = secret.slice(0, secret.length - (secret.length % 3));
  const forms = new Set([secret, JSON.stringify(secret).slice(1, -1), Buffer.from(aligned).toString('base64')]);
  return [...forms].filter((form) => form.length >= 8);
}

export async function scanForSecrets(stack: TestStack, secrets: string[]): Promise<SecretScan> {
  const needles = secrets.flatMap((secret) => formsOf(secret).map((form) => ({ secret, form })));
  const findings: string[] = [];
  const check = (where: string, text: string) => {
    for (const { secret, form } of needles) if (text.includes(form)) findings.push(`${where} holds secret ${secret.slice(0, 4)}…`);
  };
  const result: SecretScan = {
    tables: 0,
    tableRows: 0,
    queues: 0,
    queueMessages: 0,
    blobs: 0,
    responses: 0,
    logLines: stack.logs.length,
    findings,
  };

  // Stop the host so nothing consumes or adds messages while they are read.
  await stack.killHost();
  const connectionString = stack.azurite.connectionString;

  const tables = TableServiceClient.fromConnectionString(connectionString, { allowInsecureConnection: true });
  for await (const table of tables.listTables()) {
    result.tables++;
    const client = TableClient.fromConnectionString(connectionString, table.name!, { allowInsecureConnection: true });
    for await (const entity of client.listEntities()) {
      result.tableRows++;
      check(`table ${table.name} row ${entity.partitionKey}/${entity.rowKey}`, JSON.stringify(entity));
    }
  }

  const queues = QueueServiceClient.fromConnectionString(connectionString);
  for await (const queue of queues.listQueues()) {
    result.queues++;
    const client = queues.getQueueClient(queue.name);
    // Received (hidden for the rest of the scan) rather than peeked: peek shows at most 32.
    for (let page = 0; page < 10_000; page++) {
      const { receivedMessageItems } = await client.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 600 });
      if (receivedMessageItems.length === 0) break;
      for (const message of receivedMessageItems) {
        result.queueMessages++;
        const decoded = Buffer.from(message.messageText, 'base64').toString('utf8');
        check(`queue ${queue.name} message ${message.messageId}`, `${message.messageText}\n${decoded}`);
      }
    }
  }

  const work = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(CONTAINERS.work);
  if (await work.exists()) {
    for await (const blob of work.listBlobsFlat()) {
      result.blobs++;
      check(`blob ${CONTAINERS.work}/${blob.name}`, (await work.getBlobClient(blob.name).downloadToBuffer()).toString('utf8'));
    }
  }

  result.responses = stack.api.transcript.length;
  stack.api.transcript.forEach((response, index) => check(`API response ${index} (${response.split('\n')[0]!.slice(0, 80)})`, response));
  stack.logs.forEach((line, index) => check(`host log line ${index}`, line));
  return result;
}
