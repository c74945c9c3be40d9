/** Structured JSON logs, one line per event, carrying whatever IDs the caller has (request, asset, job…). */
type Fields = Record<string, unknown>;
type Level = "info" | "warn" | "error";
export type LogSink = (level: Level, line: string) => void;

const consoleSink: LogSink = (level, line) => {
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
};

let sink: LogSink | null = consoleSink;

/**
 * Where log lines go; `null` drops them. Only the workerd test setup changes this (test/workers/setup.ts):
 * there a console line written by a queue consumer as a test file ends stalls the test pool.
 */
export function setLogSink(next: LogSink | null): void {
  sink = next;
}

function emit(level: Level, msg: string, fields: Fields) {
  sink?.(level, JSON.stringify({ level, msg, time: new Date().toISOString(), ...fields }));
}

export const log = {
  info: (msg: string, fields: Fields = {}) => emit("info", msg, fields),
  warn: (msg: string, fields: Fields = {}) => emit("warn", msg, fields),
  error: (msg: string, fields: Fields = {}) => emit("error", msg, fields),
};
