// Structured log lines for the engine: one JSON object per line carrying the run, export and chunk
// it is about. Lines go through the invocation's context.log/warn/error, so the Functions host
// ships them to Application Insights (a trace whose message is the JSON; query it with
// parse_json(message)) and the local host prints them. context.log formats its arguments into
// one string in both hosts, so a JSON text is what survives the trip intact.
//
// The app never hands secrets to the logger. Redaction here is a second line of defence against a
// vendor or SDK error message that echoes one: values under secret-looking keys, secret values
// the sender has read (rememberSecret), and credentials in well-known shapes are replaced.

export type LogFields = Record<string, unknown>;

/** The ids every engine line carries, bound once per invocation. */
export interface WorkIds {
  runId?: string;
  exportId?: string;
  chunkId?: string;
}

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger adding these fields to every line (e.g. the chunk once it is known). */
  with(fields: LogFields): Logger;
}

/** Where lines go; an InvocationContext is one. */
export interface LogSink {
  log(text: string): void;
  warn(text: string): void;
  error(text: string): void;
}

export const REDACTED = '[redacted]';

/** Keys whose values are credentials whatever they hold. */
const SECRET_KEY =
  /secret|passw(or)?d|token|api[-_]?key|authorization|credential|connection[-_]?string|signature|private[-_]?key|cookie|^sig$/i;

/** Credentials in shapes that give themselves away, wherever they appear in a text. */
const SECRET_SHAPES: [RegExp, string][] = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
  [/\b(AccountKey|SharedAccessKey|SharedAccessSignature|ClientSecret|Password)=[^;\s"]+/gi, `$1=${REDACTED}`],
  [/([?&]sig=)[^&\s"]+/gi, `$1${REDACTED}`],
];

/** Shorter values would redact ordinary words; no real credential is this short. */
const MIN_REMEMBERED_LENGTH = 8;
const MAX_REMEMBERED = 1000;
const rememberedSecrets = new Set<string>();

/** Marks a secret value the process holds, so any line that would contain it gets it redacted. */
export function rememberSecret(value: string): void {
  if (value.length < MIN_REMEMBERED_LENGTH || rememberedSecrets.has(value)) return;
  // Bounded: a long-lived worker sees a few secrets per connection, not an unlimited stream.
  if (rememberedSecrets.size >= MAX_REMEMBERED) rememberedSecrets.delete(rememberedSecrets.values().next().value!);
  rememberedSecrets.add(value);
}

export function redactText(text: string): string {
  let result = text;
  for (const secret of rememberedSecrets) if (result.includes(secret)) result = result.split(secret).join(REDACTED);
  for (const [shape, replacement] of SECRET_SHAPES) result = result.replace(shape, replacement);
  return result;
}

const MAX_DEPTH = 6;

/** A copy of a value fit for a log line: secrets out, errors as name + message, depth bounded. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[…]';
  if (value instanceof Error) return { name: value.name, message: redactText(value.message) };
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    copy[key] = SECRET_KEY.test(key) && inner !== undefined && inner !== null && inner !== '' ? REDACTED : redact(inner, depth + 1);
  }
  return copy;
}

/** The JSON text of one line: the message first, then the bound ids, then the line's fields. */
export function formatLine(message: string, bound: LogFields, fields: LogFields = {}): string {
  const line: LogFields = { message, ...bound, ...fields };
  for (const key of Object.keys(line)) if (line[key] === undefined) delete line[key];
  return JSON.stringify(redact(line));
}

export function createLogger(sink: LogSink, bound: LogFields = {}): Logger {
  const write = (level: 'log' | 'warn' | 'error', message: string, fields?: LogFields) => {
    try {
      sink[level](formatLine(message, bound, fields));
    } catch {
      // A log line must never fail the work it describes.
    }
  };
  return {
    info: (message, fields) => write('log', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
    with: (fields) => createLogger(sink, { ...bound, ...fields }),
  };
}

/** For callers with nowhere to log (unit tests, scripts). */
export const silentLogger: Logger = {
  info: () => {},
  warn: () => {},
  error: () => {},
  with: () => silentLogger,
};
