// zod results as domain validation errors, with paths the caller can act on.
import { z } from 'zod';
import { ValidationFailed, type FieldError } from './errors.js';

export function toFieldErrors(error: z.ZodError, where: string): FieldError[] {
  return error.issues.map((issue) => ({
    path: [where, ...issue.path.map(String)].filter(Boolean).join('.'),
    message: issue.message,
  }));
}

export function summarize(error: z.ZodError): string {
  const first = error.issues[0];
  if (!first) return 'invalid';
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more)` : '';
  return `${first.path.length ? first.path.join('.') + ': ' : ''}${first.message}${more}`;
}

/** Parses or throws ValidationFailed naming each bad field under `where` (e.g. body.details). */
export function validateWith<T>(schema: z.ZodType<T>, value: unknown, where: string, label: string): T {
  const result = schema.safeParse(value);
  if (!result.success)
    throw new ValidationFailed(`The ${label} are not valid: ${summarize(result.error)}`, toFieldErrors(result.error, where));
  return result.data;
}

/**
 * Caps a value by the length of its JSON text: what lands in one Table Storage column (64 KiB of
 * UTF-16, i.e. 32,768 characters) or one Key Vault secret (25,600 characters) must fit.
 */
export function jsonAtMost<T extends z.ZodType>(schema: T, maxCharacters: number) {
  return schema.refine((value) => JSON.stringify(value ?? null).length <= maxCharacters, {
    message: `at most ${maxCharacters.toLocaleString('en-US')} characters as JSON`,
    // Only once the parts are valid: a part that is too long is already named on its own.
    when: (payload) => payload.issues.length === 0,
  });
}

/**
 * Text shown to people (names): no control characters — NUL, tab, CR/LF and the rest of Unicode's
 * Cc, nor the line and paragraph separators — which split log lines and CSV rows and cut strings
 * short in other systems.
 */
export const NO_CONTROL_CHARACTERS = /^[^\p{Cc}\p{Zl}\p{Zp}]*$/u;
export const NO_CONTROL_CHARACTERS_MESSAGE = 'no control characters (NUL, tab, line breaks)';

/**
 * The schema with unknown keys refused: a destination's settings and secrets are declared objects,
 * and a misspelt optional field would otherwise be dropped without a word.
 */
export function refusingUnknownKeys<T>(schema: z.ZodType<T>): z.ZodType<T> {
  return schema instanceof z.ZodObject ? (schema.strict() as unknown as z.ZodType<T>) : schema;
}
