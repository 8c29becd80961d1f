import net, { type AddressInfo } from "node:net";
import { join } from "node:path";
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
  const sqs = await onLoopback(() =>
    startFauxqs({ port: 0, logger: false, ...(dataDir ? { dataDir: join(dataDir, "sqs") } : {}) }),
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
