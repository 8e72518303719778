// What `npm start` prints once the stack is up: where everything is, and an admin token that
// works when any of its lines is pasted (so the "Try" line carries the whole token, not a prefix).

export interface StartBannerInput {
  apiUrl: string;
  consoleSignInCode: string;
  hostInstances: string;
  keyVaultUrl: string;
  simulators: { name: string; url: string }[];
  token: string;
  webhookReceiverUrl: string;
}

export function startBanner(input: StartBannerInput): string {
  const rows: [string, string][] = [
    ['Console', `${input.apiUrl}/console/#code=${input.consoleSignInCode}   (signs you in as the admin, once)`],
    ['API', `${input.apiUrl}   (OpenAPI: ${input.apiUrl}/openapi.json)`],
    ['Functions host', input.hostInstances],
    ['Storage', 'Azurite on 127.0.0.1:10000-10002 (data in .outflow/azurite)'],
    ['Key Vault', `${input.keyVaultUrl} (emulator)`],
    ...input.simulators.map((simulator): [string, string] => [simulator.name, `${simulator.url} (simulator)`]),
    ['Webhooks', `${input.webhookReceiverUrl} (receiver; what it got: ${input.webhookReceiverUrl}/_receiver/deliveries)`],
  ];
  // Labels padded to the longest one, so "Campaign Monitor:" too is followed by a space.
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return [
    '',
    'Outflow is running.',
    ...rows.map(([label, value]) => `  ${(label + ':').padEnd(width)}${value}`),
    '',
    'An admin token (12 h; more with `npm run -s token -- --role contributor --sub bob`):',
    input.token,
    '',
    'Try:',
    `  export TOKEN=${input.token}`,
    `  curl -s -H "Authorization: Bearer $TOKEN" ${input.apiUrl}/segments`,
    'The README walks through a connection, an export and a run. Ctrl-C stops everything.',
  ].join('\n');
}
