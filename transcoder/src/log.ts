/**
 * Structured logs: one JSON object per line on stdout, so container and local logs can be grepped
 * and shipped as they are. Children carry job context (job_id, asset_id, attempt, correlation_id).
 */

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export type LogSink = (line: string) => void;

const stdoutSink: LogSink = (line) => {
  process.stdout.write(`${line}\n`);
};

/** Errors do not survive JSON.stringify; keep what an operator needs, never a stack by default. */
export function serializeError(err: unknown): LogFields {
  if (err instanceof Error) {
    const out: LogFields = { name: err.name, message: err.message };
    for (const key of ["code", "status", "retryable", "exitCode", "signal"] as const) {
      const value = (err as unknown as Record<string, unknown>)[key];
      if (value !== undefined) out[key] = value;
    }
    if (err.cause !== undefined) out.cause = serializeError(err.cause);
    return out;
  }
  return { message: String(err) };
}

export function createLogger(base: LogFields = {}, sink: LogSink = stdoutSink): Logger {
  const write = (level: LogLevel, event: string, fields?: LogFields) => {
    const record: LogFields = { ts: new Date().toISOString(), level, event, ...base };
    if (fields) {
      for (const [key, value] of Object.entries(fields)) {
        record[key] = value instanceof Error ? serializeError(value) : value;
      }
    }
    try {
      sink(JSON.stringify(record));
    } catch {
      // A log line must never take a job down (e.g. a circular field).
    }
  };
  return {
    debug: (event, fields) => write("debug", event, fields),
    info: (event, fields) => write("info", event, fields),
    warn: (event, fields) => write("warn", event, fields),
    error: (event, fields) => write("error", event, fields),
    child: (fields) => createLogger({ ...base, ...fields }, sink),
  };
}

/** For tests and library callers that do not want output. */
export const silentLogger: Logger = createLogger({}, () => {});
