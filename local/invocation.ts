import { AsyncLocalStorage } from "node:async_hooks";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
// The same module the HTTP sender dispatches through (shared/http/sender.ts).
import Agent from "undici/lib/dispatcher/agent.js";

/**
 * Lambda's end of an invocation, locally. On AWS a function that reaches its timeout (or
 * crashes) is stopped: whatever it had not done yet never happens. Locally its promise would
 * run on in the background, writing records and sending requests after its messages were
 * already handed to another invocation. So each invocation runs in an async context of its
 * own; once it is killed, every AWS call and every HTTP request it still tries fails at once.
 */
interface Invocation {
  name: string;
  killed: boolean;
}

const current = new AsyncLocalStorage<Invocation>();

export class InvocationKilledError extends Error {
  constructor(name: string) {
    super(`the ${name} invocation was stopped (timeout or crash); it can do nothing more`);
    this.name = "InvocationKilledError";
  }
}

export type InvocationResult<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Runs `fn` as one invocation with a deadline. At the deadline the invocation is killed and
 * the result is a failure, whether or not `fn` would have finished later.
 */
export async function runInvocation<T>(
  name: string,
  timeoutMs: number,
  fn: () => Promise<T>,
): Promise<InvocationResult<T>> {
  installGuards();
  const invocation: Invocation = { name, killed: false };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<InvocationResult<T>>((resolve) => {
    timer = setTimeout(() => {
      invocation.killed = true;
      resolve({ ok: false, error: new Error(`${name} timed out after ${timeoutMs} ms`) });
    }, timeoutMs);
  });
  const run = current.run(invocation, fn).then(
    (value): InvocationResult<T> => ({ ok: true, value }),
    (error): InvocationResult<T> => {
      invocation.killed = true;
      return { ok: false, error };
    },
  );
  try {
    return await Promise.race([run, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Kills the invocation this code runs in (the fault suite's crash at a chosen point). */
export function killCurrentInvocation(): boolean {
  const invocation = current.getStore();
  if (!invocation) return false;
  invocation.killed = true;
  return true;
}

/** Whether this code runs inside an invocation, and which. */
export const currentInvocation = (): string | undefined => current.getStore()?.name;

function assertAlive(): void {
  const invocation = current.getStore();
  if (invocation?.killed) throw new InvocationKilledError(invocation.name);
}

let installed = false;

function installGuards(): void {
  if (installed) return;
  installed = true;
  for (const client of [DynamoDBClient, DynamoDBDocumentClient, SQSClient] as Array<{
    prototype: { send: (...args: unknown[]) => Promise<unknown> };
  }>) {
    const send = client.prototype.send;
    client.prototype.send = function guardedSend(this: unknown, ...args: unknown[]) {
      try {
        assertAlive();
      } catch (error) {
        return Promise.reject(error);
      }
      return send.apply(this, args);
    };
  }
  const prototype = Agent.prototype as unknown as {
    dispatch: (
      opts: unknown,
      handler: { onResponseError?: (c: unknown, e: Error) => void },
    ) => boolean;
  };
  const dispatch = prototype.dispatch;
  prototype.dispatch = function guardedDispatch(this: unknown, opts, handler) {
    const invocation = current.getStore();
    if (invocation?.killed) {
      handler.onResponseError?.(undefined, new InvocationKilledError(invocation.name));
      return false;
    }
    return dispatch.call(this, opts, handler);
  };
}
