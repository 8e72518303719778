// High and critical advisories (and compromised releases) of packages in the production tree,
// with the ranges they affect: the stand-in for `npm audit` where the registry's advisories
// endpoint cannot be reached. Gathered from advisory threads, audit reports and upstream
// changelogs in November 2026; a spot check of what was found, not a full audit.
import semver from 'semver';

export interface KnownAdvisory {
  name: string;
  id: string;
  /** Semver range of the affected versions. */
  affected: string;
}

export const KNOWN_ADVISORIES: KnownAdvisory[] = [
  { name: 'fast-xml-parser', id: 'GHSA-m7jm-9gc2-mpf2 / CVE-2026-25896 (critical)', affected: '>=4.1.3 <4.5.4 || >=5.0.0 <5.3.5' },
  { name: 'fast-xml-parser', id: 'GHSA-jmr7-xgp7-cmfj (high)', affected: '>=4.1.3 <5.3.6' },
  { name: 'fast-xml-parser', id: 'GHSA-37qj-frw5-hhjh / CVE-2026-25128 (high)', affected: '>=5.0.0 <5.3.4' },
  { name: 'fast-xml-parser', id: 'GHSA-8gc5-j5rx-235r / CVE-2026-33036 (high)', affected: '>=5.0.0 <5.5.6' },
  { name: 'fast-xml-parser', id: 'GHSA-8r6m-32jq-jx6q / CVE-2026-73569 (high)', affected: '>=5.9.3 <5.10.1' },
  { name: 'fast-xml-parser', id: 'CVE-2023-34104 (high)', affected: '<4.2.4' },
  { name: 'fast-xml-builder', id: 'GHSA-5wm8-gmm8-39j9 (high)', affected: '<=1.1.6' },
  { name: 'protobufjs', id: 'GHSA-xq3m-2v4x-88gg / CVE-2026-41242 (critical)', affected: '<7.5.5 || 8.0.0' },
  { name: 'protobufjs', id: 'GHSA-685m-2w69-288q / CVE-2026-44289 (high)', affected: '<7.5.6' },
  { name: 'protobufjs', id: 'CVE-2026-44291', affected: '<7.5.6 || >=8.0.0 <8.0.2' },
  { name: 'protobufjs', id: 'CVE-2026-48712 (high)', affected: '<7.6.1 || >=8.0.0 <8.4.1' },
  { name: 'protobufjs', id: 'GHSA-wcpc-wj8m-hjx6 (high)', affected: '<7.6.5 || >=8.0.0 <8.6.0' },
  { name: 'protobufjs', id: 'CVE-2023-36665 (critical)', affected: '<7.2.5' },
  { name: '@grpc/grpc-js', id: 'GHSA-5375-pq7m-f5r2 / CVE-2026-48068 (high)', affected: '>=1.14.0 <1.14.4' },
  { name: '@grpc/grpc-js', id: 'GHSA-99f4-grh7-6pcq / CVE-2026-48069 (high)', affected: '>=1.14.0 <1.14.4' },
  { name: '@grpc/grpc-js', id: 'GHSA-7v5v-9h63-cj86 / CVE-2024-37168', affected: '<1.10.9' },
  { name: 'jws', id: 'GHSA-869p-cjfg-cm3x / CVE-2025-65945 (high)', affected: '<=3.2.2 || 4.0.0' },
  { name: 'jsonwebtoken', id: 'GHSA-8cf7-32gw-wr33, CVE-2022-23539/23540/23541 (high)', affected: '<9.0.0' },
  { name: '@opentelemetry/exporter-prometheus', id: 'GHSA-q7rr-3cgh-j5r3 / CVE-2026-44902 (high)', affected: '<0.217.0' },
  { name: '@opentelemetry/sdk-node', id: 'GHSA-q7rr-3cgh-j5r3 / CVE-2026-44902 (high)', affected: '<0.217.0' },
  { name: 'import-in-the-middle', id: 'GHSA-5r27-rw8r-7967 / CVE-2023-38704 (high)', affected: '<=1.4.1' },
  { name: 'semver', id: 'GHSA-c2qf-rxjj-qqgw / CVE-2022-25883 (high)', affected: '>=7.0.0 <7.5.2 || <5.7.2' },
  { name: 'luxon', id: 'GHSA-3xq5-wjfh-ppjc / CVE-2023-22467 (high)', affected: '>=3.0.0 <3.2.1' },
  { name: 'https-proxy-agent', id: 'GHSA-pc5p-h8pf-mvwp (high)', affected: '<3.0.0' },
  { name: 'csv-parse', id: 'npm advisory 1171, ReDoS (high)', affected: '<4.4.6' },
  { name: 'ansi-regex', id: 'CVE-2021-3807 (high)', affected: '>=3.0.0 <3.0.1 || >=4.0.0 <4.1.1 || >=5.0.0 <5.0.1 || >=6.0.0 <6.0.1' },
  { name: 'uuid', id: 'GHSA-w5hq-g745-h8pq / CVE-2026-41907 (moderate, kept out all the same)', affected: '>=3.0.0 <11.1.1' },
  // Releases published from a compromised maintainer account (8 September 2025): debug, ansi-regex
  // and color-convert as found in the threads, the others as the maintainers listed them.
  { name: 'debug', id: 'compromised release', affected: '4.4.2' },
  { name: 'ansi-regex', id: 'compromised release', affected: '6.2.1' },
  { name: 'color-convert', id: 'compromised release', affected: '3.1.1' },
  { name: 'ansi-styles', id: 'compromised release', affected: '6.2.2' },
  { name: 'strip-ansi', id: 'compromised release', affected: '7.1.1' },
  { name: 'wrap-ansi', id: 'compromised release', affected: '9.0.1' },
  { name: 'color-name', id: 'compromised release', affected: '2.0.1' },
];

/** Every `name@version: advisory` of `installed` (package → versions) that an advisory above affects. */
export function affectedInstalls(installed: Map<string, Set<string>>, advisories: KnownAdvisory[] = KNOWN_ADVISORIES): string[] {
  return advisories.flatMap((advisory) =>
    [...(installed.get(advisory.name) ?? [])]
      .filter((version) => semver.satisfies(version, advisory.affected, { includePrerelease: true }))
      .map((version) => `${advisory.name}@${version}: ${advisory.id}`),
  );
}
