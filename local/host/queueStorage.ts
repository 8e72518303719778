// Queue access shared by queue triggers and queue output bindings: connection settings resolved
// the way the runtime resolves them, one service client per connection string, queues created
// on first use, and the runtime's message encoding.
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import type { QueueOptions } from './settings.js';

export const DEFAULT_CONNECTION = 'AzureWebJobsStorage';

export class QueueStorage {
  private readonly services = new Map<string, QueueServiceClient>();
  private readonly created = new Map<string, Promise<void>>();
  /** Listeners of this host instance by queue, woken when this instance's bindings add a message there. */
  private readonly localListeners = new Map<string, Set<() => void>>();

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  /** The connection string behind a binding's `connection` (a setting name, default AzureWebJobsStorage). */
  connectionString(connection: string | undefined): string {
    const name = connection || DEFAULT_CONNECTION;
    // The runtime also accepts the name without its "AzureWebJobs" prefix.
    const value = this.env[name] || this.env[`AzureWebJobs${name}`];
    if (value) return value;
    if (this.env[`${name}__queueServiceUri`] || this.env[`${name}__accountName`]) {
      throw new Error(`Connection "${name}" is identity-based; the local host needs a connection string in "${name}".`);
    }
    throw new Error(`Connection setting "${name}" is not set (environment or local.settings.json Values).`);
  }

  queue(connection: string | undefined, queueName: string): { client: QueueClient; key: string } {
    const connectionString = this.connectionString(connection);
    let service = this.services.get(connectionString);
    if (!service) {
      service = QueueServiceClient.fromConnectionString(connectionString);
      this.services.set(connectionString, service);
    }
    const name = queueName.toLowerCase();
    return { client: service.getQueueClient(name), key: `${connectionString}|${name}` };
  }

  /** The queue client, after creating the queue if it does not exist yet (once per process). */
  async ensureQueue(connection: string | undefined, queueName: string): Promise<QueueClient> {
    const { client, key } = this.queue(connection, queueName);
    let creation = this.created.get(key);
    if (!creation) {
      creation = client.createIfNotExists().then(() => undefined);
      this.created.set(key, creation);
      creation.catch(() => this.created.delete(key));
    }
    await creation;
    return client;
  }

  /**
   * Sends already-encoded messages, a few at a time, for a queue output binding (or a poison-queue
   * copy), then wakes this instance's listeners on that queue. The app's own SDK sends do not come
   * through here, and so wake nobody: their messages wait for the listener's next poll.
   */
  async send(connection: string | undefined, queueName: string, texts: string[]): Promise<void> {
    if (texts.length === 0) return;
    const client = await this.ensureQueue(connection, queueName);
    let next = 0;
    const worker = async () => {
      while (next < texts.length) {
        const text = texts[next++]!;
        await client.sendMessage(text);
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, texts.length) }, worker));
    for (const wake of this.localListeners.get(this.queue(connection, queueName).key) ?? []) wake();
  }

  /**
   * Lets a listener of this host instance hear about messages the instance's own output bindings
   * add, so it polls at once instead of waiting out its back-off. The runtime does the same, in the
   * same host only: the queue output binding's collector calls `IMessageEnqueuedWatcher.Notify`,
   * and the `SharedQueueWatcher` ends the wait of every listener registered on that queue
   * (WebJobs storage extension: QueuesExtensionConfigProvider.QueueAsyncCollector, QueueListener.Notify;
   * poison-queue copies notify too, QueueListener.RegisterSharedWatcherWithQueueProcessor).
   */
  onLocalSend(key: string, wake: () => void): () => void {
    let listeners = this.localListeners.get(key);
    if (!listeners) this.localListeners.set(key, (listeners = new Set()));
    listeners.add(wake);
    return () => listeners.delete(wake);
  }
}

/** One output value → one message text, encoded as the runtime encodes it. */
export function encodeMessage(value: unknown, encoding: QueueOptions['messageEncoding']): string {
  const bytes = toBytes(value);
  return encoding === 'base64' ? bytes.toString('base64') : bytes.toString('utf8');
}

function toBytes(value: unknown): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (Buffer.isBuffer(value)) return value;
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return Buffer.from(String(value), 'utf8');
  }
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** The message text as the function sees it; undefined when base64 is expected but the text is not base64. */
export function decodeMessage(text: string, encoding: QueueOptions['messageEncoding']): string | undefined {
  if (encoding === 'none') return text;
  const compact = text.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return undefined;
  return Buffer.from(compact, 'base64').toString('utf8');
}

/** JSON messages arrive parsed, anything else as a string (what the Node.js worker does). */
export function messageToInput(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Output bindings of type queue: arrays become one message per element. */
export function outputMessages(value: unknown, encoding: QueueOptions['messageEncoding']): string[] {
  if (value === undefined || value === null) return [];
  const items = Array.isArray(value) ? value : [value];
  return items.filter((item) => item !== undefined && item !== null).map((item) => encodeMessage(item, encoding));
}
