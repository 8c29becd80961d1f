import { AsyncLocalStorage } from "node:async_hooks";

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

/**
 * What every line of an invocation carries: the function and the request id, then, as they are
 * known, the workspace, event and delivery ids. Kept per invocation (the local stack runs many
 * at once in one process), set by `withLogContext`, added to by `addLogContext`.
 */
const context = new AsyncLocalStorage<LogFields>();

/** Runs `work` with these fields on every line it logs (nested: added to the outer ones). */
export function withLogContext<T>(fields: LogFields, work: () => T): T {
  return context.run({ ...context.getStore(), ...fields }, work);
}

/** Adds fields to the current invocation's lines from here on (the workspace once known, say). */
export function addLogContext(fields: LogFields): void {
  const store = context.getStore();
  if (store) Object.assign(store, fields);
}

function write(level: string, message: string, fields?: LogFields) {
  const line = JSON.stringify({
    level,
    message,
    ...context.getStore(),
    ...fields,
    time: new Date().toISOString(),
  });
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
