// Names of every queue, table and container the app uses: the local host, the infra tests and
// the Bicep templates are checked against this list.

export const QUEUES = {
  /** One message per run to plan: { runId, exportId }. */
  exportRuns: 'export-runs',
  /** One message per chunk (a byte range of a segment partition, never member data). */
  exportChunks: 'export-chunks',
  /** One message per ended run (or slow run) whose webhook events are to be raised: { exportId, runId }. */
  webhookEvents: 'webhook-events',
  /** One message per webhook delivery attempt: { webhookId, deliveryId }, re-sent with a delay to retry. */
  webhookDeliveries: 'webhook-deliveries',
} as const;

export const TABLES = {
  connections: 'connections',
  exports: 'exports',
  runs: 'runs',
  /** Run ledger: one row per chunk with its progress and completion marker. */
  chunks: 'chunks',
  /** Failed and skipped records of runs (successes are only counted). */
  records: 'records',
  audit: 'audit',
  /** Shared token buckets per connection, so the vendor's rate holds across instances. */
  rateBuckets: 'ratebuckets',
  /** Refresh processes reported by the upstream (what schedules wait on). */
  refreshes: 'refreshes',
  /** One row per export and due time (or system refresh): fired once, under a lease. */
  scheduleMarks: 'schedulemarks',
  /** Webhook subscriptions (the signing secret is in Key Vault). */
  webhooks: 'webhooks',
  /** The delivery log: partition = webhook id, one row per event delivered to it. */
  webhookDeliveries: 'webhookdeliveries',
} as const;

export const CONTAINERS = {
  /** Default lake container; the LAKE_CONTAINER setting may name another. */
  lake: 'lake',
  /** Outflow's own working files, e.g. the de-duplicated members of a multi-segment run. */
  work: 'outflow-work',
} as const;
