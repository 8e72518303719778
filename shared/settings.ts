// Every setting the code reads, in one place: the README table, local.settings.sample.json and
// the infra tests are checked against this list. Read them only through `setting()`.

export interface SettingSpec {
  description: string;
  /** Value used when the setting is absent; undefined = required where it is used. */
  default?: string;
  /** Only needed locally or in tests; Azure deployments leave it unset. */
  localOnly?: boolean;
}

export const SETTINGS = {
  AzureWebJobsStorage: {
    description:
      'Storage for tables, queues and blobs: a connection string locally (UseDevelopmentStorage=true for Azurite on its default ports); in Azure the identity-based AzureWebJobsStorage__* settings are used instead.',
  },
  AzureWebJobsStorage__accountName: {
    description: 'Azure only: storage account name for identity-based access (instead of a connection string).',
  },
  AzureWebJobsStorage__blobServiceUri: {
    description: 'Azure only: blob endpoint for identity-based storage access (https://<account>.blob.core.windows.net).',
  },
  AzureWebJobsStorage__queueServiceUri: {
    description: 'Azure only: queue endpoint for identity-based storage access.',
  },
  AzureWebJobsStorage__tableServiceUri: {
    description: 'Azure only: table endpoint for identity-based storage access.',
  },
  AzureWebJobsStorage__clientId: {
    description: 'Azure only: client id of the user-assigned managed identity used for storage.',
  },
  KEY_VAULT_URL: {
    description: 'Key Vault holding connection secrets (https://<vault>.vault.azure.net, or the local emulator).',
  },
  KEY_VAULT_LOCAL_TOKEN: {
    description: 'Local only: a static bearer token for the Key Vault emulator. When set, DefaultAzureCredential is not used.',
    localOnly: true,
  },
  AZURE_CLIENT_ID: {
    description: 'Client id of the user-assigned managed identity (DefaultAzureCredential reads it).',
  },
  APPLICATIONINSIGHTS_CONNECTION_STRING: {
    description:
      "Application Insights to send the app's OpenTelemetry metrics to, with the managed identity (AZURE_CLIENT_ID); unset = telemetry off (locally). The Functions host reads it too, for its own logs.",
  },
  AUTH_ISSUER: {
    description: 'Expected JWT issuer (Entra ID: https://login.microsoftonline.com/<tenant>/v2.0; locally outflow-local).',
    default: 'outflow-local',
  },
  AUTH_AUDIENCE: {
    description: "Expected JWT audience (the API app registration's client id or URI; locally outflow-api).",
    default: 'outflow-api',
  },
  AUTH_JWKS_URL: {
    description:
      'JWKS endpoint for verifying tokens (Entra ID: https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys). Unset locally.',
  },
  AUTH_DEV_SIGNING_KEY: {
    description: 'Local only: HS256 key that signs development tokens (npm run -s token). Never set in Azure.',
    localOnly: true,
  },
  CONSOLE_AUTH_CLIENT_ID: {
    description:
      "The console's Entra ID app registration (single-page application platform, redirect URI https://<app>/api/console/); with CONSOLE_AUTH_TENANT_ID and CONSOLE_AUTH_API_SCOPE it turns on Microsoft sign-in in the console.",
  },
  CONSOLE_AUTH_TENANT_ID: {
    description: 'Entra ID tenant (id or domain) the console signs people in with.',
  },
  CONSOLE_AUTH_API_SCOPE: {
    description: 'Scope(s) the console asks for to call this API, e.g. api://<api-app-id>/user_impersonation (space-separated).',
  },
  CONSOLE_SIGN_IN_CODE: {
    description:
      'Local only: the one-time code of the console link npm start prints (traded once for an admin development token). Never set in Azure.',
    localOnly: true,
  },
  LAKE_BLOB_SERVICE_URI: {
    description:
      "Blob endpoint of a separate lake storage account (read with the managed identity); unset = the lake is in the app's own storage.",
  },
  OUTFLOW_LOG_FORMAT: {
    description: 'Local host only: "json" prints one JSON object per log line instead of text.',
    localOnly: true,
  },
  OUTFLOW_QUEUE_LEASE_SECONDS: {
    description:
      'Local host only: how long a received queue message stays invisible while its function runs (renewed at half-time); the runtime holds it 10 minutes.',
    default: '600',
    localOnly: true,
  },
  AzureFunctionsJobHost__functionTimeout: {
    description:
      'Overrides host.json functionTimeout (a TimeSpan such as 00:00:20), the way the runtime lets any host.json value be set by an AzureFunctionsJobHost__<path> app setting; tests lower it. The engine keeps every invocation under min(5 min, 40 % of it).',
  },
  OUTFLOW_HOST_INSTANCES: {
    description: 'Local host only: how many host instances (processes) run on the same storage behind the one HTTP port, like a scale-out.',
    default: '1',
    localOnly: true,
  },
  OUTFLOW_AZURITE_NODE_ARGS: {
    description:
      "Local stack only: Node.js arguments for Azurite's process, to look into it (e.g. --cpu-prof --cpu-prof-dir=DIR; Node refuses --cpu-prof in NODE_OPTIONS).",
    localOnly: true,
  },
  LAKE_CONTAINER: {
    description: "Blob container holding the platform's CDM lake (model.json + CSV partitions).",
    default: 'lake',
  },
  DESTINATION_RATE_LIMITS: {
    description:
      'Optional JSON that replaces destinations\' default rate limits, by type: {"campaign-monitor":{"requestsPerSecond":10,"burst":20,"maxConcurrentRequests":8}} (maxConcurrentRequests optional: calls in flight per connection) — for vendor contracts with higher limits, and for local benchmarks against simulators without limits.',
  },
  API_RATE_LIMIT: {
    description:
      'Optional JSON for the API\'s per-caller request limit on each instance: {"requestsPerSecond":100,"burst":1000} (the default). A caller over it gets 429 with Retry-After.',
  },
  VENDOR_TIMEOUT_SECONDS: {
    description:
      "Longest wait for one vendor call before it is abandoned and tried again (a batch sent again is an upsert). Unset = each adapter's own: 60 s, 125 s for dotdigital and Mailchimp imports.",
  },
  RUN_RECOVERY_STALE_SECONDS: {
    description:
      "Seconds a run (or chunk) may go without a write before the recovery sweep (every minute) counts it as not driven and sends its messages again. Unset = 120; the reliability suite's ci profile shortens it.",
  },
  RUN_RETENTION_DAYS: {
    description:
      "Days a run's rows are kept — the run, its ledger, its record outcomes (they hold emails) — and settled schedule marks; a timer removes older ones every hour. A run's working files go as soon as it ends.",
    default: '30',
  },
  AUDIT_RETENTION_DAYS: {
    description: 'Days audit rows are kept; the retention timer removes older ones.',
    default: '365',
  },
  WEBHOOK_ALLOW_LOOPBACK: {
    description:
      'Local only: "true" lets webhooks target loopback (127.0.0.1, ::1) over http — the local receiver and tests. Private ranges and metadata addresses stay refused. npm start sets it.',
    localOnly: true,
  },
  WEBHOOK_RETRY_DELAYS_SECONDS: {
    description:
      "Waits between a webhook delivery's attempts, comma-separated seconds; the last repeats until 24 h after the first attempt.",
    default: '5,300,1800,7200,18000,36000',
  },
  PUBLIC_API_URL: {
    description:
      "The API's public base URL (https://<app>.azurewebsites.net/api), for links in webhook payloads; unset = links are paths under /api.",
  },
  CAMPAIGN_MONITOR_API_URL: {
    description: 'Origin replacing https://api.createsend.com (local simulator); unset in Azure.',
  },
  ITERABLE_API_URL: { description: 'Origin replacing the Iterable API host (local simulator); unset in Azure.' },
  DOTDIGITAL_API_URL: { description: 'Origin replacing the dotdigital regional API host (local simulator); unset in Azure.' },
  MAILCHIMP_API_URL: { description: 'Origin replacing the Mailchimp data-center host (local simulator); unset in Azure.' },
  LINKEDIN_API_URL: { description: 'Origin replacing https://api.linkedin.com (local simulator); unset in Azure.' },
  KLAVIYO_API_URL: { description: 'Origin replacing https://a.klaviyo.com (local simulator); unset in Azure.' },
  GOOGLE_ADS_API_URL: {
    description:
      'Origin replacing both https://googleads.googleapis.com and the OAuth token host https://oauth2.googleapis.com (the local simulator answers both); unset in Azure.',
  },
} satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;

/** Reads a setting from the environment (the Functions host puts app settings there). */
export function setting(name: SettingName): string | undefined {
  const value = process.env[name];
  if (value !== undefined && value !== '') return value;
  return (SETTINGS[name] as SettingSpec).default;
}

export function requiredSetting(name: SettingName): string {
  const value = setting(name);
  if (value === undefined) throw new Error(`Setting ${name} is not set (see README, Settings).`);
  return value;
}
