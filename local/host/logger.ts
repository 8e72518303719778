// One line per log entry, on stdout: readable text by default, JSON lines with
// OUTFLOW_LOG_FORMAT=json (for tools that parse the host's output).

export type LogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';

const RANK: Record<LogLevel, number> = {
  trace: 0,
  debug: 1,
  information: 2,
  warning: 3,
  error: 4,
  critical: 5,
  none: 6,
};

const SHORT: Record<LogLevel, string> = {
  trace: 'trace',
  debug: 'debug',
  information: 'info ',
  warning: 'warn ',
  error: 'error',
  critical: 'crit ',
  none: 'none ',
};

export interface LogEntry {
  level: LogLevel;
  category: string;
  message: string;
  functionName?: string;
  invocationId?: string;
}

export interface HostLogger {
  log(entry: LogEntry): void;
  host(level: LogLevel, message: string): void;
  /** Whether a user log at this level from this function passes host.json logging.logLevel. */
  enabled(level: LogLevel, functionName: string): boolean;
}

export function createLogger(options: {
  format?: string;
  logLevels?: Record<string, string>;
  write?: (line: string) => void;
  /** The host instance's number when several run on the same storage. */
  instance?: string;
}): HostLogger {
  const json = options.format?.toLowerCase() === 'json';
  const write = options.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const levels = options.logLevels ?? {};

  function threshold(functionName: string): number {
    const configured =
      levels[`Function.${functionName}.User`] ?? levels[`Function.${functionName}`] ?? levels.Function ?? levels.default ?? 'Information';
    return RANK[toLogLevel(configured)];
  }

  const logger: HostLogger = {
    log(entry) {
      const time = new Date().toISOString();
      if (json) {
        write(JSON.stringify(options.instance ? { time, instance: options.instance, ...entry } : { time, ...entry }));
        return;
      }
      const where = entry.functionName
        ? `[Functions.${entry.functionName}]${entry.invocationId ? ` (${entry.invocationId})` : ''}`
        : `[${entry.category}]`;
      const instance = options.instance ? `#${options.instance} ` : '';
      write(`${time} ${SHORT[entry.level]} ${instance}${where} ${entry.message}`);
    },
    host(level, message) {
      logger.log({ level, category: 'host', message });
    },
    enabled(level, functionName) {
      return RANK[level] >= threshold(functionName);
    },
  };
  return logger;
}

/** Maps library and host.json level names ("Information", "Warning", …) to ours. */
export function toLogLevel(name: string): LogLevel {
  const lower = name.toLowerCase();
  if (lower === 'info') return 'information';
  if (lower === 'warn') return 'warning';
  return lower in RANK ? (lower as LogLevel) : 'information';
}
