import { createRequire } from "node:module";
import net, { type AddressInfo } from "node:net";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Worker } from "node:worker_threads";
import dynalite from "dynalite";
import { startFauxqs } from "fauxqs";

/**
 * The AWS services of the local stack, in this process: dynalite (DynamoDB's API on LevelDB)
 * and fauxqs (SQS's API on SQLite). With a data directory both keep their state on disk, so
 * subscriptions, deliveries and queued messages survive a restart.
 */
export interface Emulators {
  dynamoEndpoint: string;
  sqsEndpoint: string;
  stop(): Promise<void>;
}

/** `dataDir` undefined keeps everything in memory (tests); a path persists it. */
export async function startEmulators(dataDir?: string): Promise<Emulators> {
  closeDynaliteIterators();
  const dynamo = dynalite({
    ...(dataDir ? { path: join(dataDir, "dynamodb") } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    dynamo.once("error", reject);
    dynamo.listen(0, "127.0.0.1", () => resolve());
  });
  await fixFauxqsRelease();
  const sqs = await onLoopback(() =>
    withWalSyncNormal(() =>
      startFauxqs({
        port: 0,
        logger: false,
        ...(dataDir ? { dataDir: join(dataDir, "sqs") } : {}),
      }),
    ),
  );
  const { port } = dynamo.address() as AddressInfo;
  return {
    dynamoEndpoint: `http://127.0.0.1:${port}`,
    sqsEndpoint: `http://127.0.0.1:${sqs.port}`,
    async stop() {
      await sqs.stop();
      await new Promise<void>((resolve) => dynamo.close(() => resolve()));
    },
  };
}

interface LevelIterator {
  close(): Promise<void>;
  return?: () => Promise<void>;
}

/**
 * dynalite 4 reads every Query and Scan through a level iterator wrapped in a stream, and when
 * it has what it needs (the `Limit`, the end) it destroys the stream — which calls
 * `iterator.return()`, a method abstract-level's iterators do not have (they have `close()`). So
 * no iterator was ever closed, and abstract-level keeps each open one (with classic-level's
 * LevelDB snapshot and its read-ahead cache) until the database closes: every query left about
 * 7 KB of heap and more native memory behind, and a long `npm start` session, or the fault
 * suite's half hour, grew by gigabytes. Each iterator gets the `return()` dynalite expects.
 * Returns whether it patched (false: already done).
 */
export function closeDynaliteIterators(): boolean {
  const require = createRequire(import.meta.resolve("dynalite"));
  const { AbstractLevel } = require("abstract-level") as {
    AbstractLevel: { prototype: Record<string, unknown> };
  };
  const proto = AbstractLevel.prototype;
  if (proto.closesDynaliteIterators) return false;
  for (const method of ["keys", "values", "iterator"]) {
    const original = proto[method] as (...args: unknown[]) => LevelIterator;
    proto[method] = function withReturn(this: unknown, ...args: unknown[]) {
      const iterator = original.apply(this, args);
      iterator.return ??= () => iterator.close();
      return iterator;
    };
  }
  proto.closesDynaliteIterators = true;
  return true;
}

/**
 * fauxqs keeps queued messages in SQLite in WAL mode with SQLite's default `synchronous = FULL`:
 * an fsync on every send, receive and delete, on the event loop (about 0.2 ms each here, three
 * per message). `NORMAL` — the setting SQLite recommends with WAL — syncs at checkpoints
 * instead: a killed stack still loses nothing (the WAL is in the OS's hands), only a power cut
 * could drop the last moments. While `start` runs, turning WAL on also sets `NORMAL`.
 * Resolves with how many databases it changed (0 would mean fauxqs changed how it opens one).
 */
export async function withWalSyncNormal<T>(start: () => Promise<T>): Promise<T> {
  const exec = DatabaseSync.prototype.exec;
  let relaxed = 0;
  DatabaseSync.prototype.exec = function execWithSyncNormal(this: DatabaseSync, sql: string) {
    exec.call(this, sql);
    if (/^\s*PRAGMA\s+journal_mode\s*=\s*WAL\s*;?\s*$/i.test(sql)) {
      exec.call(this, "PRAGMA synchronous = NORMAL");
      relaxed++;
    }
  };
  try {
    const result = await start();
    walSyncRelaxed += relaxed;
    return result;
  } finally {
    DatabaseSync.prototype.exec = exec;
  }
}

/**
 * fauxqs 2.4 persists "visible again" (a visibility change to 0: a deliver handback, a drain
 * releasing what it held) by writing NULL into a NOT NULL column. The write throws after the
 * message has left the in-flight set and before it is back in the queue: with a data
 * directory, every such message vanished until the next restart. Corrected here by writing
 * only what changes; `test/integration/emulators.test.ts` holds it.
 */
export async function fixFauxqsRelease(): Promise<void> {
  const url = new URL("./persistence.js", import.meta.resolve("fauxqs"));
  const { PersistenceManager } = (await import(url.href)) as {
    PersistenceManager: { prototype: Record<string, unknown> };
  };
  if (PersistenceManager.prototype.updateMessageReadyFixed) return;
  PersistenceManager.prototype.updateMessageReady = function updateMessageReady(
    this: { db: DatabaseSync },
    messageId: string,
  ) {
    this.db
      .prepare(
        "UPDATE sqs_messages SET receipt_handle = NULL, visibility_deadline = NULL WHERE message_id = ?",
      )
      .run(messageId);
  };
  PersistenceManager.prototype.updateMessageReadyFixed = true;
}

/** Databases `withWalSyncNormal` has switched to `synchronous = NORMAL` in this thread. */
export let walSyncRelaxed = 0;

/**
 * fauxqs always listens on 0.0.0.0, which would put an unauthenticated SQS on the network.
 * While it starts, listens on "0.0.0.0" are moved to 127.0.0.1. Nothing else in this process
 * listens during that window (the stack starts the emulators first).
 */
export async function onLoopback<T>(start: () => Promise<T>): Promise<T> {
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function loopbackListen(this: net.Server, ...args: unknown[]) {
    const [options] = args;
    if (
      options &&
      typeof options === "object" &&
      (options as net.ListenOptions).host === "0.0.0.0"
    ) {
      args[0] = { ...(options as net.ListenOptions), host: "127.0.0.1" };
    }
    return (listen as (...a: unknown[]) => net.Server).apply(this, args);
  } as typeof listen;
  try {
    return await start();
  } finally {
    net.Server.prototype.listen = listen;
  }
}

/**
 * The emulators on a worker thread (see emulator-worker.ts): what `npm start` runs, so the
 * functions and the AWS services they call do not share one event loop.
 */
export async function startEmulatorsInWorker(dataDir?: string): Promise<Emulators> {
  const worker = new Worker(new URL("./emulator-worker.ts", import.meta.url), {
    workerData: { dataDir },
  });
  const ready = await new Promise<{ dynamoEndpoint: string; sqsEndpoint: string }>(
    (resolve, reject) => {
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`emulators exited with ${code}`)));
      worker.once("message", (message) => {
        if (message?.error) {
          // Whichever emulator did start would keep the thread alive.
          void worker.terminate();
          reject(new Error(`emulators failed to start: ${message.error}`));
        } else resolve(message);
      });
    },
  );
  worker.removeAllListeners();
  return {
    ...ready,
    async stop() {
      const stopped = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
      worker.postMessage("stop");
      await stopped;
    },
  };
}
