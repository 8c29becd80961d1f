import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import * as z from "zod/mini";
import { CONSOLE_DIST } from "../console/build.ts";
import { createDocumentClient, createSqsClient } from "../shared/aws.ts";
import { DEFAULT_FRAME_ANCESTORS, parseFrameAncestors } from "../shared/http/console-headers.ts";
import { describeError, jsonLogger, type Logger, silentLogger } from "../shared/log.ts";
import { setMetricsSink } from "../shared/metrics.ts";
import { LOCAL_SCHEDULE, parseSchedule } from "../shared/retry.ts";
import { newKeyFileContents } from "../shared/secrets/secret-box.ts";
import { DynamoWorkspaceStore } from "../shared/store/workspace-store.ts";
import { parsedBy, toFieldErrors } from "../shared/validation.ts";
import { type ApiHandler, type InvokableFunctions, startApiGateway } from "./api-gateway.ts";
import { ensureDemoKeys } from "./demo-keys.ts";
import { startEmulatorsInWorker } from "./emulators.ts";
import { runInvocation } from "./invocation.ts";
import { ensureInvokeToken } from "./invoke-token.ts";
import { lambdaContext } from "./lambda-context.ts";
import { provision } from "./provision.ts";
import { type PollerOptions, type SqsHandler, startPoller } from "./sqs-poller.ts";
import { startTtlSweeper } from "./ttl-sweeper.ts";

const port = z.pipe(
  z.string().check(z.regex(/^\d+$/, "must be a port number")),
  z.pipe(z.transform(Number), z.number().check(z.minimum(0), z.maximum(65_535))),
);

/** Settings of `npm start`, from the environment. */
export const LocalEnv = z.object({
  /** Port of the local API (0 picks a free one). */
  PORT: z.prefault(port, "3000"),
  /** Interface the local API listens on; loopback unless you mean to share it. */
  WEBHOOKS_LOCAL_HOST: z.prefault(z.string().check(z.minLength(1)), "127.0.0.1"),
  /** Where dynalite and fauxqs keep their data. */
  WEBHOOKS_LOCAL_DATA_DIR: z.optional(z.string().check(z.minLength(1))),
  WEBHOOKS_LOCAL_ADMIN_KEY: z.optional(z.string()),
  WEBHOOKS_LOCAL_INGEST_KEY: z.optional(z.string()),
  /** Concurrent deliver batches (the event source mapping's maximum concurrency). */
  WEBHOOKS_LOCAL_POLLERS: z.prefault(
    z.pipe(
      z.string(),
      z.pipe(z.transform(Number), z.number().check(z.int(), z.minimum(1), z.maximum(32))),
    ),
    "4",
  ),
  /** Concurrent deliver batches of the slow lane (its own event source mapping's). */
  WEBHOOKS_LOCAL_SLOW_POLLERS: z.prefault(
    z.pipe(
      z.string(),
      z.pipe(z.transform(Number), z.number().check(z.int(), z.minimum(1), z.maximum(32))),
    ),
    "2",
  ),
  /**
   * How long a received message stays hidden while the deliver function works on it: also
   * how soon messages in flight when the stack was killed come back after a restart.
   */
  WEBHOOKS_LOCAL_VISIBILITY_SECONDS: z.prefault(
    z.pipe(
      z.string(),
      z.pipe(z.transform(Number), z.number().check(z.int(), z.minimum(2), z.maximum(43_200))),
    ),
    "30",
  ),
  WEBHOOKS_RETRY_SCHEDULE: z.optional(z.string()),
  /** How often the sweep runs (stranded messages, abandoned resend claims). */
  WEBHOOKS_LOCAL_SWEEP_SECONDS: z.prefault(
    z.pipe(
      z.string(),
      z.pipe(z.transform(Number), z.number().check(z.int(), z.minimum(1), z.maximum(3600))),
    ),
    "10",
  ),
  /**
   * Who may frame the console (its `frame-ancestors`): `'none'`, or origins such as
   * `http://localhost:8080` (a CRM under development embedding it).
   */
  WEBHOOKS_LOCAL_CONSOLE_FRAME_ANCESTORS: z.prefault(
    parsedBy(parseFrameAncestors),
    DEFAULT_FRAME_ANCESTORS,
  ),
  /** Overrides the deliveries queue's redrive count (tests strand messages with it). */
  WEBHOOKS_LOCAL_MAX_RECEIVES: z.optional(
    z.pipe(
      z.string(),
      z.pipe(z.transform(Number), z.number().check(z.int(), z.minimum(1), z.maximum(1000))),
    ),
  ),
});

/** Test seams: what the fault-injection suite changes around the functions. */
export interface LocalStackHooks {
  /** Wraps the deliver function as the local event source mapping invokes it. */
  wrapDeliver?: (handler: SqsHandler) => SqsHandler;
  /** Wraps the API function as the local API Gateway invokes it. */
  wrapApi?: (handler: ApiHandler) => ApiHandler;
  /** False: a received batch is not invoked (a throttled Lambda). */
  shouldInvoke?: PollerOptions["shouldInvoke"];
  /** The stack's own log; a silent one (tests) also keeps the functions' metrics lines out. */
  log?: Logger;
}

export interface LocalStack {
  url: string;
  dynamoEndpoint: string;
  adminKey: string;
  ingestKey: string;
  keySource: string;
  dataDir: string;
  schedule: readonly number[];
  /** Runs the sweep now (it also runs on its own every WEBHOOKS_LOCAL_SWEEP_SECONDS). */
  sweep(): Promise<unknown>;
  /** What callers of the local Invoke API must present (local/invoke-token.ts). */
  invokeToken: string;
  stop(): Promise<void>;
}

/** The deliver function's timeout beyond its request timeout: room to record and back off. */
const FUNCTION_MARGIN_MS = 5_000;
/** The resend function's name, locally as in the CDK app's default stage. */
export const RESEND_FUNCTION = "webhooks-resend";

/**
 * The whole pipeline on one machine: emulators, table and queues, the demo workspace, the API
 * function behind a local API Gateway, and the deliver function behind a local event source
 * mapping. The functions are the production handlers, configured through their environment.
 */
export async function startLocalStack(
  env: Record<string, string | undefined> = process.env,
  hooks: LocalStackHooks = {},
): Promise<LocalStack> {
  const log = hooks.log ?? jsonLogger;
  if (log === silentLogger) setMetricsSink(() => {});
  const parsed = LocalEnv.safeParse(env);
  if (!parsed.success) {
    const lines = toFieldErrors(parsed.error.issues).map((e) => `  ${e.field}: ${e.detail}`);
    throw new Error(`Invalid local settings:\n${lines.join("\n")}`);
  }
  const settings = parsed.data;
  const schedule = settings.WEBHOOKS_RETRY_SCHEDULE
    ? parseScheduleOrExplain(settings.WEBHOOKS_RETRY_SCHEDULE)
    : LOCAL_SCHEDULE;
  const dataDir = resolve(
    settings.WEBHOOKS_LOCAL_DATA_DIR ?? resolve(import.meta.dirname, "../.data"),
  );

  const emulators = await startEmulatorsInWorker(dataDir);
  const secretKeyFile = await ensureSecretKeyFile(dataDir);
  const region = "us-east-1";
  const credentials = { accessKeyId: "local", secretAccessKey: "local" };
  const dynamo = new DynamoDBClient({ endpoint: emulators.dynamoEndpoint, region, credentials });
  const sqs = createSqsClient({ endpoint: emulators.sqsEndpoint, region, credentials });
  const resources = await provision(dynamo, sqs, {
    tableName: "webhooks",
    queueName: "webhooks-deliveries",
    schedule,
    visibilityTimeout: settings.WEBHOOKS_LOCAL_VISIBILITY_SECONDS,
    maxReceiveCount: settings.WEBHOOKS_LOCAL_MAX_RECEIVES,
  });

  // The functions read their configuration and endpoints from the environment, as on AWS.
  Object.assign(process.env, {
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamoEndpoint,
    AWS_ENDPOINT_URL_SQS: emulators.sqsEndpoint,
    WEBHOOKS_TABLE_NAME: resources.tableName,
    WEBHOOKS_QUEUE_URL: resources.queueUrl,
    WEBHOOKS_DLQ_URL: resources.deadLetterQueueUrl,
    WEBHOOKS_STRANDED_QUEUE_URL: resources.strandedQueueUrl,
    WEBHOOKS_SLOW_QUEUE_URL: resources.slowQueueUrl,
    WEBHOOKS_RETRY_SCHEDULE: schedule.join(","),
    WEBHOOKS_ALLOW_LOOPBACK_HTTP: "true",
    WEBHOOKS_SECRET_KEY_FILE: secretKeyFile,
    // Statistics a second behind, rather than ten: one process, and people watching.
    WEBHOOKS_STATS_FLUSH_SECONDS: env.WEBHOOKS_STATS_FLUSH_SECONDS ?? "1",
  });
  delete process.env.WEBHOOKS_KMS_KEY_ID;
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;

  const documents = createDocumentClient();
  const store = new DynamoWorkspaceStore({ client: documents, name: resources.tableName });
  const keys = await ensureDemoKeys(store, dataDir, {
    admin: settings.WEBHOOKS_LOCAL_ADMIN_KEY,
    ingest: settings.WEBHOOKS_LOCAL_INGEST_KEY,
  });

  const api = await import("../functions/api/handler.ts");
  const deliver = await import("../functions/deliver/handler.ts");
  const resend = await import("../functions/resend/handler.ts");
  const apiHandler = api.handler as ApiHandler;
  const invokeToken = await ensureInvokeToken(dataDir);
  const gateway = await startApiGateway(hooks.wrapApi?.(apiHandler) ?? apiHandler, {
    port: settings.PORT,
    host: settings.WEBHOOKS_LOCAL_HOST,
    timeoutMs: 30_000,
    functions: { [RESEND_FUNCTION]: resend.handler as InvokableFunctions[string] },
    invokeToken,
    console: { dir: CONSOLE_DIST, frameAncestors: settings.WEBHOOKS_LOCAL_CONSOLE_FRAME_ANCESTORS },
  });
  const deliverHandler = deliver.handler as SqsHandler;
  // As on Lambda: the function's timeout leaves room past its longest request.
  const functionTimeoutMs =
    Number(process.env.WEBHOOKS_REQUEST_TIMEOUT_MS ?? 15_000) + FUNCTION_MARGIN_MS;
  const poller = startPoller(sqs, hooks.wrapDeliver?.(deliverHandler) ?? deliverHandler, {
    queueUrl: resources.queueUrl,
    queueArn: resources.queueArn,
    concurrency: settings.WEBHOOKS_LOCAL_POLLERS,
    timeoutMs: functionTimeoutMs,
    shouldInvoke: hooks.shouldInvoke,
    log,
  });

  // The slow lane: its own event source mapping, with its own concurrency.
  const slowPoller = startPoller(sqs, hooks.wrapDeliver?.(deliverHandler) ?? deliverHandler, {
    queueUrl: resources.slowQueueUrl,
    queueArn: resources.slowQueueArn,
    concurrency: settings.WEBHOOKS_LOCAL_SLOW_POLLERS,
    timeoutMs: functionTimeoutMs,
    shouldInvoke: hooks.shouldInvoke,
    log,
  });

  const ttl = startTtlSweeper(documents, resources.tableName, { everyMs: 60_000, log });
  // The sweep, as the CDK app schedules it: the resend function's "sweep" job.
  const sweepNow = () =>
    runInvocation("resend", 300_000, () =>
      (resend.handler as InvokableFunctions[string])(
        { action: "sweep" },
        lambdaContext(RESEND_FUNCTION, 300_000),
      ),
    );
  const sweeps = setInterval(() => {
    sweepNow().then((outcome) => {
      if (!outcome.ok) log.warn("sweep failed", describeError(outcome.error));
    });
  }, settings.WEBHOOKS_LOCAL_SWEEP_SECONDS * 1000);
  sweeps.unref();

  return {
    url: gateway.url,
    dynamoEndpoint: emulators.dynamoEndpoint,
    adminKey: keys.admin,
    ingestKey: keys.ingest,
    keySource: keys.source,
    dataDir,
    schedule,
    sweep: async () => {
      const outcome = await sweepNow();
      if (!outcome.ok) throw outcome.error;
      return outcome.value;
    },
    invokeToken,
    async stop() {
      clearInterval(sweeps);
      ttl.stop();
      await gateway.close();
      await poller.stop();
      await slowPoller.stop();
      await emulators.stop();
    },
  };
}

/**
 * The local stand-in for the KMS key that seals subscription secrets: 32 random bytes in the
 * data directory, readable by its owner only, made on first start and kept across restarts.
 */
async function ensureSecretKeyFile(dataDir: string): Promise<string> {
  const path = join(dataDir, "secret-key");
  await mkdir(dataDir, { recursive: true });
  try {
    await writeFile(path, newKeyFileContents(), { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return path;
}

function parseScheduleOrExplain(text: string): number[] {
  try {
    return parseSchedule(text);
  } catch (error) {
    throw new Error(
      `Invalid local settings:\n  WEBHOOKS_RETRY_SCHEDULE: ${(error as Error).message}.`,
    );
  }
}
