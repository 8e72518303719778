// dotdigital contact import files: one RFC 4180 CSV per file (csv-stringify), an `Email` column
// plus one column per mapped contact data field, and the JSON body that uploads it. A file
// holds at most one engine batch, so memory stays bounded by the batch, never the segment.
import { stringify } from 'csv-stringify/sync';
import type { MappedMember } from './destination.js';

/** Data-matching field → the account's default contact data field it fills. */
export const DATA_FIELD_COLUMNS = {
  firstName: 'FIRSTNAME',
  lastName: 'LASTNAME',
  fullName: 'FULLNAME',
  gender: 'GENDER',
  postalCode: 'POSTCODE',
} as const satisfies Record<string, string>;
type DataFieldName = keyof typeof DATA_FIELD_COLUMNS;

/** The vendor refuses files over 50 MB. */
export const VENDOR_FILE_LIMIT_BYTES = 50 * 1024 * 1024;
/** Files are cut well below the vendor's limit: base64 in the JSON body adds a third (30 MB → 40 MB). */
export const IMPORT_FILE_TARGET_BYTES = 30 * 1024 * 1024;

export interface ImportFile {
  csv: Buffer;
  members: MappedMember[];
}

// RFC 4180: CRLF between records; csv-stringify quotes fields holding commas, quotes or newlines.
// A bare LF or CR inside a value is quoted too: the record delimiter is CRLF, but parsers split on either.
const CSV_OPTIONS = { record_delimiter: 'windows', quoted_match: /[\r\n]/ } as const;

/** Data fields the batch uses, in a fixed order, so a file has no column nobody fills. */
export function importColumns(members: MappedMember[]): DataFieldName[] {
  const used = new Set<string>();
  for (const member of members) for (const [field, value] of Object.entries(member.fields)) if (value) used.add(field);
  return (Object.keys(DATA_FIELD_COLUMNS) as DataFieldName[]).filter((field) => used.has(field));
}

function headerLine(columns: DataFieldName[]): string {
  return stringify([['Email', ...columns.map((field) => DATA_FIELD_COLUMNS[field])]], CSV_OPTIONS);
}

function rowLine(member: MappedMember, columns: DataFieldName[]): string {
  // An empty cell leaves the contact's stored value alone (the import's merge option).
  return stringify([[member.email, ...columns.map((field) => member.fields[field]?.trim() ?? '')]], CSV_OPTIONS);
}

/** Members → one CSV text (header + one row each). */
export function toImportCsv(members: MappedMember[]): string {
  const columns = importColumns(members);
  return headerLine(columns) + members.map((member) => rowLine(member, columns)).join('');
}

/**
 * Members → import files of at most `maxBytes` each (UTF-8). One file unless rows are unusually
 * long; every file repeats the header. A member whose row alone exceeds the limit goes to
 * `oversized` instead (no file can carry it).
 */
export function toImportFiles(
  members: MappedMember[],
  maxBytes = IMPORT_FILE_TARGET_BYTES,
): { files: ImportFile[]; oversized: MappedMember[] } {
  const columns = importColumns(members);
  const header = Buffer.from(headerLine(columns), 'utf8');
  const files: ImportFile[] = [];
  const oversized: MappedMember[] = [];
  let parts: Buffer[] = [header];
  let size = header.length;
  let fileMembers: MappedMember[] = [];
  const close = () => {
    if (fileMembers.length > 0) files.push({ csv: Buffer.concat(parts, size), members: fileMembers });
    parts = [header];
    size = header.length;
    fileMembers = [];
  };
  for (const member of members) {
    const row = Buffer.from(rowLine(member, columns), 'utf8');
    if (header.length + row.length > maxBytes) {
      oversized.push(member);
      continue;
    }
    if (size + row.length > maxBytes) close();
    parts.push(row);
    size += row.length;
    fileMembers.push(member);
  }
  close();
  return { files, oversized };
}

/**
 * The import request body: the v2 OpenAPI gives the import operations a JSON `ApiFileMedia` body,
 * {fileName, data} with data as base64 (format byte) and no other property
 * (dotdigital-v2.openapi.json, sources in test/contract/README.md, ApiContactImport_ImportContactsToAddressBookWithMergeOption).
 */
export function toFileMedia(csv: Buffer, fileName: string): { fileName: string; data: string } {
  return { fileName, data: csv.toString('base64') };
}
