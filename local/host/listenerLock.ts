// The runtime's singleton listener lock: a timer trigger listens on one instance only, the one
// holding a blob lease on azure-webjobs-hosts/locks/{hostId}/{function}.Listener. The others try
// again every listenerLockRecoveryPollingInterval and take over when the holder is gone.
// (WebJobs SDK SingletonManager/BlobLeaseDistributedLockManager; host.json "singleton":
// https://learn.microsoft.com/azure/azure-functions/functions-host-json#singleton)
import { randomUUID } from 'node:crypto';
import type { BlobLeaseClient, ContainerClient } from '@azure/storage-blob';
import type { HostLogger } from './logger.js';
import type { SingletonOptions } from './settings.js';

export class ListenerLock {
  private readonly leaseId = randomUUID();
  private lease: BlobLeaseClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private held = false;

  constructor(
    private readonly container: ContainerClient,
    readonly blobName: string,
    private readonly options: SingletonOptions,
    private readonly logger: HostLogger,
    private readonly onAcquired: () => void,
    private readonly onLost: () => void,
  ) {}

  get isHeld(): boolean {
    return this.held;
  }

  start(): void {
    void this.tryAcquire();
  }

  /** Stops trying, and gives the lease up so another instance can take over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.held || !this.lease) return;
    this.held = false;
    await this.lease.releaseLease().catch(() => undefined);
  }

  private schedule(ms: number, action: () => Promise<void>): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void action(), ms);
  }

  private async tryAcquire(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.container.createIfNotExists();
      const blob = this.container.getBlockBlobClient(this.blobName);
      if (!(await blob.exists())) {
        await blob.upload('', 0, { conditions: { ifNoneMatch: '*' } }).catch((error: { statusCode?: number }) => {
          if (error.statusCode !== 409 && error.statusCode !== 412) throw error;
        });
      }
      this.lease = blob.getBlobLeaseClient(this.leaseId);
      await this.lease.acquireLease(Math.round(this.options.listenerLockPeriodMs / 1000));
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      if (status !== 409) this.logger.host('warning', `Could not take the listener lock ${this.blobName}: ${(error as Error).message}`);
      this.schedule(this.options.listenerLockRecoveryPollingIntervalMs, () => this.tryAcquire());
      return;
    }
    if (this.stopped) {
      await this.lease.releaseLease().catch(() => undefined);
      return;
    }
    this.held = true;
    this.onAcquired();
    this.schedule(this.options.listenerLockPeriodMs / 2, () => this.renew());
  }

  private async renew(): Promise<void> {
    if (this.stopped || !this.lease) return;
    try {
      await this.lease.renewLease();
      this.schedule(this.options.listenerLockPeriodMs / 2, () => this.renew());
    } catch (error) {
      if (this.stopped) return;
      this.logger.host('warning', `Lost the listener lock ${this.blobName}: ${(error as Error).message}`);
      this.held = false;
      this.onLost();
      this.schedule(this.options.listenerLockRecoveryPollingIntervalMs, () => this.tryAcquire());
    }
  }
}
