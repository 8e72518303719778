// Storage-queue triggers with the runtime's semantics: batches of `batchSize`, another batch when
// in-flight drops to `newBatchThreshold`, polling that backs off to `maxPollingInterval`, a lease
// kept while the handler runs, delete on success, `visibilityTimeout` before a retry, and
// `<queue>-poison` once `maxDequeueCount` is reached.
import type { DequeuedMessageItem, QueueClient } from '@azure/storage-queue';
import type { RegisteredFunction } from './coreApi.js';
import { triggerOf } from './coreApi.js';
import { describeError, type InFlight, type Invoker } from './invoke.js';
import type { HostLogger } from './logger.js';
import { decodeMessage, DEFAULT_CONNECTION, messageToInput, type QueueStorage } from './queueStorage.js';
import { resolveAppSettingExpressions, type QueueOptions } from './settings.js';

/** The runtime's shortest polling interval. */
const MIN_POLL_MS = 100;

export class QueueTrigger {
  readonly queueName: string;
  readonly connection: string;
  private stopped = false;
  private active = 0;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private unregister: (() => void) | undefined;

  constructor(
    readonly fn: RegisteredFunction,
    private readonly invoker: Invoker,
    private readonly inFlight: InFlight,
    private readonly logger: HostLogger,
    private readonly storage: QueueStorage,
    private readonly options: QueueOptions,
    /** How long a received message stays invisible; renewed at half-time while the handler runs. */
    private readonly leaseSeconds: number,
  ) {
    const trigger = triggerOf(fn);
    this.queueName = resolveAppSettingExpressions(String(trigger.queueName ?? '')).toLowerCase();
    this.connection = (trigger.connection as string | undefined) || DEFAULT_CONNECTION;
    if (!this.queueName) throw new Error(`Function "${fn.metadata.name}" has a queue trigger without queueName.`);
    // Fails early (at start) when the connection setting is missing.
    storage.connectionString(this.connection);
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops polling; messages already handed to the function finish (tracked by InFlight). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unregister?.();
    this.wake();
    // A receive stuck in storage retries (storage already gone) must not hold up shutdown.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise((resolve) => (timer = setTimeout(resolve, 5_000)))]);
    clearTimeout(timer);
  }

  /** Runs the function with a given input, outside the queue (admin API). */
  invokeDirect(input: unknown): void {
    void this.inFlight.track(this.invoker.invoke(this.fn, input, { reason: `Invoked via the admin API` }).catch(() => undefined));
  }

  private wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.();
  }

  /** Waits `ms`, or less if woken (a local send, a finished message, or stop). */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private async run(): Promise<void> {
    const { client, key } = this.storage.queue(this.connection, this.queueName);
    let delay = MIN_POLL_MS;
    while (!this.stopped) {
      try {
        await this.storage.ensureQueue(this.connection, this.queueName);
        break;
      } catch (error) {
        this.logger.host('warning', `Queue '${this.queueName}' is not reachable yet: ${(error as Error).message}`);
        await this.pause(delay);
        delay = Math.min(delay * 2, this.options.maxPollingIntervalMs);
      }
    }
    this.unregister = this.storage.onLocalSend(key, () => this.wake());
    delay = MIN_POLL_MS;
    while (!this.stopped) {
      if (this.active > this.options.newBatchThreshold) {
        await this.pause(this.options.maxPollingIntervalMs);
        continue;
      }
      let messages: DequeuedMessageItem[];
      try {
        const response = await client.receiveMessages({
          numberOfMessages: this.options.batchSize,
          visibilityTimeout: this.leaseSeconds,
        });
        messages = response.receivedMessageItems;
      } catch (error) {
        this.logger.host('warning', `Receiving from '${this.queueName}' failed: ${(error as Error).message}`);
        await this.pause(delay);
        delay = Math.min(delay * 2, this.options.maxPollingIntervalMs);
        continue;
      }
      if (this.stopped) {
        // Received while stopping: hand them back at once rather than holding them for the lease.
        await Promise.allSettled(messages.map((m) => client.updateMessage(m.messageId, m.popReceipt, undefined, 0)));
        break;
      }
      if (messages.length === 0) {
        await this.pause(delay);
        delay = Math.min(delay * 2, this.options.maxPollingIntervalMs);
        continue;
      }
      delay = MIN_POLL_MS;
      for (const message of messages) void this.inFlight.track(this.process(client, message));
    }
  }

  private async process(client: QueueClient, message: DequeuedMessageItem): Promise<void> {
    this.active++;
    let popReceipt = message.popReceipt;
    // Renewals are chained so the final delete/update always uses the latest pop receipt.
    let renewal = Promise.resolve();
    const renewTimer = setInterval(
      () => {
        renewal = renewal.then(async () => {
          try {
            const response = await client.updateMessage(message.messageId, popReceipt, undefined, this.leaseSeconds);
            popReceipt = response.popReceipt ?? popReceipt;
          } catch (error) {
            this.logger.host('warning', `Could not extend the lease of message ${message.messageId}: ${(error as Error).message}`);
          }
        });
      },
      (this.leaseSeconds * 1000) / 2,
    );
    try {
      const text = decodeMessage(message.messageText, this.options.messageEncoding);
      if (text === undefined) {
        // The runtime cannot decode it, so it would fail every time: straight to the poison queue.
        this.logger.host(
          'error',
          `Message ${message.messageId} on '${this.queueName}' is not valid base64; moving it to '${this.queueName}-poison'.`,
        );
        clearInterval(renewTimer);
        await renewal;
        await this.moveToPoison(client, message, popReceipt);
        return;
      }
      let succeeded = true;
      try {
        await this.invoker.invoke(this.fn, messageToInput(text), {
          reason: `New queue message detected on '${this.queueName}'.`,
          triggerMetadata: {
            id: message.messageId,
            dequeueCount: message.dequeueCount,
            expirationTime: message.expiresOn.toISOString(),
            insertionTime: message.insertedOn.toISOString(),
            nextVisibleTime: message.nextVisibleOn.toISOString(),
            popReceipt: message.popReceipt,
            queueTrigger: text,
          },
        });
      } catch {
        succeeded = false;
      }
      clearInterval(renewTimer);
      await renewal;
      if (succeeded) {
        await client.deleteMessage(message.messageId, popReceipt);
      } else if (message.dequeueCount >= this.options.maxDequeueCount) {
        this.logger.host(
          'warning',
          `Message ${message.messageId} has reached MaxDequeueCount of ${this.options.maxDequeueCount}; moving it to '${this.queueName}-poison'.`,
        );
        await this.moveToPoison(client, message, popReceipt);
      } else {
        await client.updateMessage(message.messageId, popReceipt, undefined, Math.ceil(this.options.visibilityTimeoutMs / 1000));
      }
    } catch (error) {
      // Storage trouble after the invocation: the lease runs out and the message comes back.
      this.logger.host('error', `Completing message ${message.messageId} on '${this.queueName}' failed: ${describeError(error)}`);
    } finally {
      clearInterval(renewTimer);
      this.active--;
      if (this.active <= this.options.newBatchThreshold) this.wake();
    }
  }

  private async moveToPoison(client: QueueClient, message: DequeuedMessageItem, popReceipt: string): Promise<void> {
    // The original text, still encoded, as the runtime copies it.
    await this.storage.send(this.connection, `${this.queueName}-poison`, [message.messageText]);
    await client.deleteMessage(message.messageId, popReceipt);
  }
}
