// The runtime's timer schedule monitor: each timer's last and next occurrence in a status blob,
// azure-webjobs-hosts/timers/{hostId}/{function}/status, so a host that starts after a missed
// occurrence runs the function once at once with isPastDue = true (WebJobs extensions
// StorageScheduleMonitor; https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer#usage).
import type { ContainerClient } from '@azure/storage-blob';

export interface ScheduleStatus {
  last: Date;
  next: Date;
  lastUpdated: Date;
}

export class ScheduleMonitor {
  constructor(
    private readonly container: ContainerClient,
    readonly blobName: string,
  ) {}

  async read(): Promise<ScheduleStatus | undefined> {
    try {
      const buffer = await this.container.getBlockBlobClient(this.blobName).downloadToBuffer();
      const raw = JSON.parse(buffer.toString('utf8')) as Record<string, string>;
      const status = { last: new Date(raw.Last ?? 0), next: new Date(raw.Next ?? 0), lastUpdated: new Date(raw.LastUpdated ?? 0) };
      return Number.isNaN(status.next.getTime()) ? undefined : status;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
  }

  async write(status: ScheduleStatus): Promise<void> {
    // The runtime's JSON: {"Last": …, "Next": …, "LastUpdated": …}.
    const text = JSON.stringify({
      Last: status.last.toISOString(),
      Next: status.next.toISOString(),
      LastUpdated: status.lastUpdated.toISOString(),
    });
    await this.container.createIfNotExists();
    await this.container.getBlockBlobClient(this.blobName).upload(text, Buffer.byteLength(text), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
  }
}

/** How late the recorded next occurrence is at `now` (0 when it is not past due). */
export function pastDueBy(status: ScheduleStatus | undefined, now: Date): number {
  if (!status) return 0;
  return Math.max(0, now.getTime() - status.next.getTime());
}
