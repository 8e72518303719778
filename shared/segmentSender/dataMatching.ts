// Data matching: one lake row → one member for the destination (mapped, trimmed, email
// lower-cased), or the reason it cannot be sent.
import type { MappedMember } from '../destinations/destination.js';

// Pragmatic syntax check: one @, no spaces, a dot in the domain. Vendors apply their own rules
// too; their rejections come back as per-record failures.
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

export function isValidEmail(email: string): boolean {
  return email.length <= 254 && EMAIL.test(email);
}

/**
 * The email of a row as members are compared by it (trimmed, lower-cased; '' without a column).
 * The planner's repeated-email marks, the union and the senders must agree on it, so all call this.
 */
export function rowEmail(values: string[], column: number): string {
  return column >= 0 ? (values[column] ?? '').trim().toLowerCase() : '';
}

export interface MatchingPlan {
  /** destination field → column index in the segment entity */
  columns: [field: string, index: number][];
  emailColumn: number;
}

export function matchingPlan(mapping: Record<string, string>, attributes: string[]): MatchingPlan {
  const columns: [string, number][] = [];
  for (const [field, attribute] of Object.entries(mapping)) {
    const index = attributes.indexOf(attribute);
    if (index < 0) throw new Error(`The mapping uses attribute '${attribute}', which the segment does not have.`);
    columns.push([field, index]);
  }
  const email = columns.find(([field]) => field === 'email');
  return { columns, emailColumn: email ? email[1] : -1 };
}

export type MatchResult = { ok: true; member: MappedMember } | { ok: false; email: string; code: 'invalidEmail'; message: string };

export function matchRecord(plan: MatchingPlan, values: string[]): MatchResult {
  // Lists keyed by something other than email (LinkedIn company lists) take rows as they are.
  if (plan.emailColumn < 0) return { ok: true, member: { email: '', fields: fieldsOf(plan, values) } };
  const rawEmail = values[plan.emailColumn] ?? '';
  const email = rowEmail(values, plan.emailColumn);
  if (!isValidEmail(email)) {
    return {
      ok: false,
      email: rawEmail.trim(),
      code: 'invalidEmail',
      message: email ? `'${rawEmail.trim()}' is not a valid email address.` : 'The email address is empty.',
    };
  }
  return { ok: true, member: { email, fields: fieldsOf(plan, values) } };
}

function fieldsOf(plan: MatchingPlan, values: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [field, index] of plan.columns) {
    if (field === 'email') continue;
    const value = (values[index] ?? '').trim();
    if (value) fields[field] = value;
  }
  return fields;
}
