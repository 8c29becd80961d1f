/**
 * One-line JSON logs (CloudWatch and `npm start` both read them well). Callers pass ids and
 * outcomes only: never secrets, keys, signatures or payloads.
 */
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

function write(level: string, message: string, fields?: LogFields) {
  const line = JSON.stringify({ level, message, ...fields, time: new Date().toISOString() });
  if (level === "error") console.error(line);
  else console.log(line);
}

export const jsonLogger: Logger = {
  info: (message, fields) => write("info", message, fields),
  warn: (message, fields) => write("warn", message, fields),
  error: (message, fields) => write("error", message, fields),
};

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** The parts of an error that are safe to log: its class, message and code. */
export function describeError(error: unknown): LogFields {
  const e = error as { name?: string; message?: string; code?: string };
  return { error: e?.name ?? "Error", detail: e?.message ?? String(error), code: e?.code };
}
