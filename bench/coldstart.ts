#!/usr/bin/env node
/**
 * `npm run bench:coldstart`: each function's cold start, measured against a floor.
 *
 * A cold start here is what Lambda's first invocation waits for: a fresh Node process,
 * configured as on Lambda (the function's environment from the synthesized template, with
 * `NODE_OPTIONS=--enable-source-maps`; only the endpoints point at the local emulators), imports
 * the bundle `cdk deploy` would upload, builds its clients and handles one realistic event:
 *
 *   ApiFunction      POST /v1/events with an ingest key, one subscriber
 *   DeliverFunction  one SQS record of that event (a first receive), to a local receiver
 *   ResendFunction   the scheduled {"action":"sweep"} with nothing to finish
 *
 * Each figure is the child's `performance.now()` when the handler answers — milliseconds since
 * its process started — split into the part before the import (Node itself), the import and
 * the first call; the child's CPU time to the answer comes with it. Every answer is checked
 * (a cold start that failed is not a measurement).
 *
 * The floor of each function (bench/floor/) builds only the AWS SDK clients the function
 * builds at cold start and makes the very AWS calls it makes for that event, and is bundled
 * with the same esbuild options (BUNDLING): what any implementation of the function pays. A
 * first, unmeasured run of each bundle goes through recording proxies and checks that the
 * floor's calls are the function's. Then rounds: each bundle once per round, in an order that
 * rotates; medians with their range, and the ratio of the medians (and of each round).
 * docs/architecture.md's budget: ≤ 1.15× the floor.
 *
 *   COLDSTART_RUNS=11                 rounds (at least 9 for the budget)
 *   COLDSTART_FUNCTIONS=api,deliver   some functions only
 *   COLDSTART_VARIANT=validated-floor  (the default; "" for none; several: a comma-separated
 *                                     list) also each floor plus what no implementation of this
 *                                     contract avoids: the configuration and the event checked
 *                                     with zod (bench/variants/api-validated-floor.ts); the
 *                                     configuration and undici from npm for the POST
 *                                     (bench/variants/deliver-validated-floor.ts)
 *   COLDSTART_VARIANT=ingest-only     also the API's ingest alone, built from the same shared
 *                                     modules (bench/variants/api-ingest-only.ts): the API
 *                                     design's own floor
 *   COLDSTART_VARIANT=ingest-first    also the API restructured so that ingest loads nothing
 *                                     else, bundled with code splitting
 *                                     (bench/variants/api-ingest-first.ts)
 *   COLDSTART_VARIANT=powertools      also each function wrapped with telemetry (one log line
 *                                     and two metrics per invocation), once with the house
 *                                     logger and EMF line (shared/log.ts, shared/metrics.ts),
 *                                     once with Powertools' Logger and Metrics (issue 16)
 *   COLDSTART_PROFILE=dir             also profile three cold starts of each function and its
 *                                     floor, and print their CPU by origin side by side
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { isDeepStrictEqual, promisify } from "node:util";
import { KMSClient } from "@aws-sdk/client-kms";
import type { APIGatewayProxyEventV2, SQSEvent } from "aws-lambda";
import { build } from "esbuild";
import type { Subscription } from "../shared/domain.ts";
import { newKeyId, newSubscriptionId } from "../shared/ids.ts";
import { generateApiKey, hashApiKey } from "../shared/keys.ts";
import { encodeMessage } from "../shared/queue/delivery-queue.ts";
import { KmsKeyring } from "../shared/secrets/kms-keyring.ts";
import { SecretBox } from "../shared/secrets/secret-box.ts";
import { generateSecret } from "../shared/signing.ts";
import { DynamoDeliveryStore } from "../shared/store/delivery-store.ts";
import { DynamoEventStore } from "../shared/store/event-store.ts";
import { DynamoWorkspaceStore } from "../shared/store/workspace-store.ts";
import { messagesFor, storedEventOf } from "../shared/use-cases/ingest-event.ts";
import { seal } from "../shared/use-cases/subscriptions.ts";
import { type LocalAws, startLocalAws } from "../test/helpers/aws-local.ts";
import { startServer, type TestServer } from "../test/helpers/http-server.ts";
import {
  buildLikeCdk,
  esbuildOptions,
  ROOT,
  type SynthesizedBundle,
  sameCode,
  synthesizeBundles,
} from "./lib/bundling.ts";
import {
  againstValidatedFloor,
  BUSY_SHARE,
  COLD_START_BUDGET,
  countCalls,
  type Ratio,
  ratioTo,
  sameCalls,
  type Timing,
} from "./lib/coldstart-figures.ts";
import { type FakeKms, startFakeKms } from "./lib/fake-kms.ts";
import { formatOrigins, profileOrigins } from "./lib/profile-origins.ts";
import { startRecorder } from "./lib/recorder.ts";
import { handOver, type Spread, spread } from "./lib/stats.ts";

const run = promisify(execFile);

export const FUNCTIONS = {
  api: "ApiFunction",
  deliver: "DeliverFunction",
  resend: "ResendFunction",
} as const;
type FunctionKey = keyof typeof FUNCTIONS;

export const VARIANTS = ["powertools", "ingest-only", "ingest-first", "validated-floor"] as const;
type Variant = (typeof VARIANTS)[number];

export interface ColdStartOptions {
  runs: number;
  functions: FunctionKey[];
  variants: Variant[];
  profileDir?: string | undefined;
}

/**
 * Cold starts profiled per bundle with COLDSTART_PROFILE, at V8's default 1 ms interval (a
 * finer one slows small functions, zod's, out of proportion). Read them on a quiet machine:
 * under load the sampler charges time spent waiting for a CPU to whatever ran last.
 */
const PROFILED_RUNS = 3;

type Figure = keyof Timing;
const FIGURES: Figure[] = ["totalMs", "bootMs", "importMs", "callMs", "cpuMs", "queuedMs"];

export interface BundleResult {
  /** "function", "floor", or a variant ("house telemetry", "Powertools"). */
  label: string;
  bytes: number;
  samples: Timing[];
  /** Median and range of each figure over the runs. */
  figures: Record<Figure, Spread>;
}

export interface FunctionResult {
  name: string;
  /** The event, in words. */
  event: string;
  /** The AWS calls (and HTTP requests) one cold start makes, as recorded. */
  calls: string[];
  bundles: BundleResult[];
  /** Each bundle's median cold start ÷ the floor's; the range is that of the rounds' ratios. */
  ratios: Record<string, Ratio>;
}

export interface ColdStartReport {
  options: { runs: number; variants: string[] };
  node: string;
  cpu: string;
  functions: FunctionResult[];
  /** With COLDSTART_PROFILE: each function's profile by origin, next to its floor's. */
  profiles?: string[];
}

/** The cold start of one bundle in a fresh process; the child writes its figures to a file. */
const CHILD = `import { readFileSync, writeFileSync } from "node:fs";
// Linux: the main thread's nanoseconds on a CPU, waiting for one, timeslices.
const waited = () => {
  try {
    return Number(readFileSync("/proc/self/schedstat", "utf8").split(" ")[1]) / 1e6 || 0;
  } catch {
    return 0;
  }
};
const waitedBefore = waited();
const [bundle, eventFile, outFile, functionName] = process.argv.slice(2);
const event = JSON.parse(readFileSync(eventFile, "utf8"));
const deadline = Date.now() + 60000;
const context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName,
  functionVersion: "$LATEST",
  invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:" + functionName,
  memoryLimitInMB: "256",
  awsRequestId: "00000000-0000-4000-8000-000000000000",
  logGroupName: "/aws/lambda/" + functionName,
  logStreamName: "coldstart",
  getRemainingTimeInMillis: () => deadline - Date.now(),
};
const start = performance.now();
const { handler } = await import(bundle);
const imported = performance.now();
const answer = await handler(event, context);
const answered = performance.now();
const cpu = process.cpuUsage();
const queuedMs = waited() - waitedBefore;
writeFileSync(outFile, JSON.stringify({ start, imported, answered, queuedMs, cpuMs: (cpu.user + cpu.system) / 1000, answer }));
process.exit(0);
`;

interface Prepared {
  event: unknown;
  /** Throws unless the answer (and what it left behind) is right. */
  check(answer: unknown): Promise<void>;
}

interface Scenario {
  key: FunctionKey;
  event: string;
  prepare(): Promise<Prepared>;
}

interface Subject {
  label: string;
  file: string;
  bytes: number;
  /** What its standard output must contain (a variant's log line and metrics). */
  prints?: string[];
}

interface World {
  aws: LocalAws;
  kms: FakeKms;
  receiver: TestServer;
  workspaceId: string;
  ingestKey: string;
  subscription: Subscription;
}

export async function runColdStart(options: ColdStartOptions): Promise<ColdStartReport> {
  const dir = await mkdtemp(join(tmpdir(), "webhooks-coldstart-"));
  const stops: Array<() => Promise<void>> = [];
  try {
    const synthesized = await synthesizeBundles(join(dir, "cdk.out"));
    const byName = new Map(synthesized.map((b) => [b.name, b]));
    const schedule = retrySchedule(synthesized[0]);
    const aws = await startLocalAws(schedule);
    stops.push(() => aws.stop());
    const kms = await startFakeKms();
    stops.push(() => kms.close());
    const receiver = await startServer();
    stops.push(() => receiver.close());
    const world = await seed(aws, kms, receiver);
    const recorders = {
      dynamo: await startRecorder(aws.emulators.dynamoEndpoint),
      sqs: await startRecorder(aws.emulators.sqsEndpoint),
      kms: await startRecorder(kms.endpoint),
    };
    for (const recorder of Object.values(recorders)) stops.push(() => recorder.close());
    const runner = join(dir, "child.mjs");
    await writeFile(runner, CHILD);

    const plans: Array<{
      scenario: Scenario;
      bundle: SynthesizedBundle;
      subjects: Subject[];
      result: FunctionResult;
    }> = [];
    for (const key of options.functions) {
      const bundle = byName.get(FUNCTIONS[key]);
      if (!bundle) throw new Error(`the synthesized app has no ${FUNCTIONS[key]}`);
      await checkBuildMatchesCdk(bundle, join(dir, "check", key));
      const floor = await buildLikeCdk(`bench/floor/${key}.ts`, join(dir, "floor", key));
      const subjects: Subject[] = [
        { label: "function", file: bundle.file, bytes: bundle.bytes },
        { label: "floor", ...floor },
      ];
      const variants: Array<[FunctionKey, Variant, string, string, boolean]> = [
        ["api", "ingest-only", "ingest only", "bench/variants/api-ingest-only.ts", false],
        ["api", "ingest-first", "ingest first, split", "bench/variants/api-ingest-first.ts", true],
        ["api", "validated-floor", "floor + zod", "bench/variants/api-validated-floor.ts", false],
        [
          "deliver",
          "validated-floor",
          "floor + undici + zod",
          "bench/variants/deliver-validated-floor.ts",
          false,
        ],
      ];
      for (const [forKey, variant, label, entry, splitting] of variants) {
        if (forKey !== key || !options.variants.includes(variant)) continue;
        const built = await buildLikeCdk(entry, join(dir, variant, key), [], { splitting });
        subjects.push({ label, ...built });
      }
      if (options.variants.includes("powertools")) {
        for (const [label, wrapper] of [
          ["house telemetry", "bench/variants/house-telemetry.ts"],
          ["Powertools", "bench/variants/powertools.ts"],
        ] as const) {
          const built = await buildWrapped(bundle.entry, wrapper, key, join(dir, label, key));
          subjects.push({ label, ...built, prints: ['"invocation done"', '"Invocations"'] });
        }
      }
      const scenario = scenarios(world)[key];
      plans.push({
        scenario,
        bundle,
        subjects,
        result: {
          name: bundle.name,
          event: scenario.event,
          calls: [],
          bundles: subjects.map((s) => ({
            label: s.label,
            bytes: s.bytes,
            samples: [],
            figures: {} as BundleResult["figures"],
          })),
          ratios: {},
        },
      });
    }

    const environment = (bundle: SynthesizedBundle, recorded: boolean) =>
      lambdaEnvironment(bundle, world, {
        dynamo: recorded ? recorders.dynamo.url : aws.emulators.dynamoEndpoint,
        sqs: recorded ? recorders.sqs.url : aws.emulators.sqsEndpoint,
        kms: recorded ? recorders.kms.url : kms.endpoint,
      });
    const once = async (
      plan: (typeof plans)[number],
      subject: Subject,
      env: Record<string, string>,
      nodeArgs: string[] = [],
    ) => {
      const prepared = await plan.scenario.prepare();
      const outcome = await coldStart(runner, subject.file, prepared.event, env, dir, nodeArgs);
      await prepared.check(outcome.answer).catch((error: Error) => {
        throw new Error(
          `${plan.bundle.name} (${subject.label}): the cold start answered wrongly: ${error.message}\n${JSON.stringify(outcome.answer)}`,
        );
      });
      for (const text of subject.prints ?? []) {
        if (!outcome.stdout.includes(text)) {
          throw new Error(`${plan.bundle.name} (${subject.label}) did not print ${text}`);
        }
      }
      return outcome.timing;
    };

    // The first run of each bundle: recorded, unmeasured (it also warms the file cache).
    for (const plan of plans) {
      let reference: string[] | undefined;
      for (const subject of plan.subjects) {
        const before = world.receiver.requests.length;
        for (const recorder of Object.values(recorders)) recorder.take();
        await once(plan, subject, environment(plan.bundle, true));
        const calls = [
          ...recorders.dynamo.take(),
          ...recorders.sqs.take(),
          ...recorders.kms.take(),
          ...world.receiver.requests.slice(before).map((r) => `HTTP ${r.method} (receiver)`),
        ];
        if (!reference) {
          reference = calls;
          plan.result.calls = calls;
        } else if (!sameCalls(reference, calls)) {
          throw new Error(
            `${plan.bundle.name}: the ${subject.label} bundle makes other calls than the function.\n  function: ${reference.join(", ")}\n  ${subject.label}: ${calls.join(", ")}\nbench/floor/${plan.scenario.key}.ts must make the function's calls.`,
          );
        }
      }
    }

    const profiles: string[] = [];
    if (options.profileDir) {
      await mkdir(options.profileDir, { recursive: true });
      for (const plan of plans) {
        // Several profiled cold starts of each bundle, alternating, averaged by origin.
        const sums = plan.subjects.map(() => new Map<string, number>());
        for (let i = 0; i < PROFILED_RUNS; i++) {
          for (const [index, subject] of plan.subjects.entries()) {
            const name = `${plan.scenario.key}-${subject.label.replace(/\W+/g, "-")}-${i + 1}`;
            await once(plan, subject, environment(plan.bundle, false), [
              "--cpu-prof",
              `--cpu-prof-dir=${resolve(options.profileDir)}`,
              `--cpu-prof-name=${name}.cpuprofile`,
            ]);
            // The bundle's source maps (the entry's and a split bundle's chunks'), to read the
            // profile by original file (the bundle is deleted).
            const maps: Record<string, string> = {};
            const bundleDir = dirname(subject.file);
            for (const file of await readdir(bundleDir)) {
              if (!file.endsWith(".mjs.map")) continue;
              const js = file.slice(0, -".map".length);
              const copy = join(
                options.profileDir,
                js === "index.mjs" ? `${name}.mjs.map` : `${name}.${js}.map`,
              );
              await copyFile(join(bundleDir, file), copy);
              maps[js] = copy;
            }
            const origins = await profileOrigins(
              join(options.profileDir, `${name}.cpuprofile`),
              maps,
            );
            const sum = sums[index] as Map<string, number>;
            for (const [origin, ms] of origins) sum.set(origin, (sum.get(origin) ?? 0) + ms);
          }
        }
        const origins = sums.map(
          (sum) => new Map([...sum].map(([origin, ms]) => [origin, ms / PROFILED_RUNS])),
        );
        const [, floor, ...variants] = origins;
        for (const [index, fn] of [origins[0], ...variants].entries()) {
          const label = index === 0 ? "function" : (plan.subjects[index + 1]?.label ?? "");
          if (!fn || !floor) continue;
          profiles.push(
            `${plan.bundle.name}${index === 0 ? "" : ` (${label})`}, CPU profiles of ${PROFILED_RUNS} cold starts each, averaged (${options.profileDir}):\n${formatOrigins([label, "floor"], fn, floor)}`,
          );
        }
      }
    }

    for (let round = 0; round < options.runs; round++) {
      for (const plan of plans) {
        const order = plan.subjects.map((_, i) => (i + round) % plan.subjects.length);
        for (const index of order) {
          const subject = plan.subjects[index] as Subject;
          const timing = await once(plan, subject, environment(plan.bundle, false));
          plan.result.bundles[index]?.samples.push(timing);
        }
      }
      process.stderr.write(`\rcold starts: round ${round + 1} of ${options.runs}`);
    }
    process.stderr.write("\n");

    for (const { result } of plans) {
      for (const bundle of result.bundles) {
        bundle.figures = Object.fromEntries(
          FIGURES.map((f) => [f, spread(bundle.samples.map((s) => s[f]))]),
        ) as BundleResult["figures"];
      }
      const floor = result.bundles.find((b) => b.label === "floor");
      for (const bundle of result.bundles) {
        if (!floor || bundle === floor) continue;
        result.ratios[bundle.label] = ratioTo(bundle, floor);
      }
    }
    return {
      options: { runs: options.runs, variants: options.variants },
      node: process.version,
      cpu: `${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}`,
      functions: plans.map((p) => p.result),
      profiles,
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

async function coldStart(
  runner: string,
  bundle: string,
  event: unknown,
  env: Record<string, string>,
  dir: string,
  nodeArgs: string[],
): Promise<{ timing: Timing; answer: unknown; stdout: string }> {
  const id = randomUUID();
  const eventFile = join(dir, `${id}.event.json`);
  const outFile = join(dir, `${id}.out.json`);
  await writeFile(eventFile, JSON.stringify(event));
  let stdout: string;
  try {
    ({ stdout } = await run(
      process.execPath,
      [
        ...nodeArgs,
        runner,
        pathToFileURL(bundle).href,
        eventFile,
        outFile,
        env.AWS_LAMBDA_FUNCTION_NAME ?? "",
      ],
      { env, maxBuffer: 16 * 1024 * 1024 },
    ));
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`cold start of ${bundle} failed:\n${stderr ?? ""}${stdout ?? ""}`);
  }
  const out = JSON.parse(await readFile(outFile, "utf8")) as {
    start: number;
    imported: number;
    answered: number;
    queuedMs: number;
    cpuMs: number;
    answer: unknown;
  };
  await rm(eventFile);
  await rm(outFile);
  return {
    timing: {
      totalMs: out.answered,
      queuedMs: out.queuedMs,
      bootMs: out.start,
      importMs: out.imported - out.start,
      callMs: out.answered - out.imported,
      cpuMs: out.cpuMs,
    },
    answer: out.answer,
    stdout,
  };
}

/**
 * The function's environment as deployed (from the template), its references to the table,
 * queues and KMS key filled in with the local ones, the variables Lambda itself sets, and the
 * service endpoints of the local emulators.
 */
function lambdaEnvironment(
  bundle: SynthesizedBundle,
  world: World,
  endpoints: { dynamo: string; sqs: string; kms: string },
): Record<string, string> {
  const { aws, kms } = world;
  const local: Record<string, string> = {
    WEBHOOKS_TABLE_NAME: aws.tableName,
    WEBHOOKS_QUEUE_URL: aws.queueUrl,
    WEBHOOKS_DLQ_URL: aws.deadLetterQueueUrl,
    WEBHOOKS_STRANDED_QUEUE_URL: aws.strandedQueueUrl,
    WEBHOOKS_SLOW_QUEUE_URL: aws.slowQueueUrl,
    WEBHOOKS_KMS_KEY_ID: kms.keyId,
  };
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(bundle.environment)) {
    if (typeof value === "string") env[name] = value;
    else if (local[name] !== undefined) env[name] = local[name];
    else throw new Error(`${bundle.name}: no local value for ${name} (${JSON.stringify(value)})`);
  }
  const functionName = `webhooks-${bundle.name.replace(/Function$/, "").toLowerCase()}`;
  return {
    ...env,
    PATH: process.env.PATH ?? "",
    LANG: "en_US.UTF-8",
    TZ: ":UTC",
    AWS_REGION: "us-east-1",
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "coldstart",
    AWS_SECRET_ACCESS_KEY: "coldstart",
    AWS_SESSION_TOKEN: "coldstart",
    AWS_EXECUTION_ENV: "AWS_Lambda_nodejs24.x",
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "256",
    AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: "coldstart",
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamo,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    AWS_ENDPOINT_URL_KMS: endpoints.kms,
    // The receiver is on 127.0.0.1: the SSRF guard refuses loopback unless told otherwise.
    WEBHOOKS_ALLOW_LOOPBACK_HTTP: "true",
  };
}

function retrySchedule(bundle: SynthesizedBundle | undefined): number[] {
  const value = bundle?.environment.WEBHOOKS_RETRY_SCHEDULE;
  return typeof value === "string" ? value.split(",").map(Number) : [0, 1, 2];
}

/** The bundle of `entry` built by bench/lib/bundling.ts must be the synthesized one. */
async function checkBuildMatchesCdk(bundle: SynthesizedBundle, dir: string): Promise<void> {
  const ours = await buildLikeCdk(bundle.entry, dir);
  if (!(await sameCode(ours.file, bundle.file))) {
    throw new Error(
      `bench/lib/bundling.ts builds ${bundle.entry} differently from cdk synth: the floors would not be bundled as the functions are (compare esbuildOptions with infra/house-function.ts)`,
    );
  }
}

/** The function's handler wrapped by a telemetry variant (bench/variants/), bundled like it. */
async function buildWrapped(
  entry: string,
  wrapper: string,
  key: FunctionKey,
  outDir: string,
): Promise<{ file: string; bytes: number }> {
  const file = join(outDir, "index.mjs");
  const { entryPoints: _, ...options } = esbuildOptions(entry);
  await build({
    ...options,
    stdin: {
      contents: `import { handler as inner } from ${JSON.stringify(resolve(ROOT, entry))};
import { withTelemetry } from ${JSON.stringify(resolve(ROOT, wrapper))};
export const handler = withTelemetry(inner, ${JSON.stringify(key)});`,
      resolveDir: ROOT,
      sourcefile: "coldstart-variant.ts",
      loader: "ts",
    },
    outfile: file,
  });
  return { file, bytes: (await stat(file)).size };
}

/** A workspace with an ingest key and one subscriber (the local receiver), secret sealed by KMS. */
async function seed(aws: LocalAws, kms: FakeKms, receiver: TestServer): Promise<World> {
  const workspaceId = "coldstart";
  const store = new DynamoWorkspaceStore(aws.table);
  const ingestKey = generateApiKey(workspaceId);
  await store.putKey({
    id: newKeyId(),
    workspaceId,
    hash: hashApiKey(ingestKey),
    role: "ingest",
    name: "coldstart",
    hint: "h",
    createdAt: new Date().toISOString(),
  });
  const keyring = new KmsKeyring(
    new KMSClient({
      endpoint: kms.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "seed", secretAccessKey: "seed" },
    }),
    kms.keyId,
  );
  const id = newSubscriptionId();
  const at = new Date().toISOString();
  await store.createSubscription({
    id,
    workspaceId,
    url: `${receiver.url}/hooks`,
    events: ["service.created"],
    enabled: true,
    description: "cold start",
    secret: await seal(generateSecret(), workspaceId, id, new SecretBox(keyring)),
    previousSecrets: [],
    createdAt: at,
    updatedAt: at,
  });
  const subscription = await store.getSubscription(workspaceId, id);
  if (!subscription) throw new Error("the subscription was not stored");
  return { aws, kms, receiver, workspaceId, ingestKey, subscription };
}

function scenarios(world: World): Record<FunctionKey, Scenario> {
  const { aws, receiver, workspaceId, subscription } = world;
  const events = new DynamoEventStore(aws.table, { retentionSeconds: 86_400 });
  const deliveries = new DynamoDeliveryStore(aws.table, { retentionSeconds: 86_400 });
  const queueName = aws.queueUrl.split("/").at(-1);
  return {
    api: {
      key: "api",
      event: "POST /v1/events (ingest key, one subscriber)",
      async prepare() {
        const body = JSON.stringify({ event: "service.created", data: { id: "s_1", name: "x" } });
        const event: APIGatewayProxyEventV2 = {
          version: "2.0",
          routeKey: "POST /v1/events",
          rawPath: "/v1/events",
          rawQueryString: "",
          headers: {
            authorization: `Bearer ${world.ingestKey}`,
            "content-type": "application/json",
            "content-length": String(Buffer.byteLength(body)),
            host: "api.example",
            "user-agent": "customermates-crm",
          },
          requestContext: {
            accountId: "000000000000",
            apiId: "coldstart",
            domainName: "api.example",
            domainPrefix: "api",
            http: {
              method: "POST",
              path: "/v1/events",
              protocol: "HTTP/1.1",
              sourceIp: "203.0.113.1",
              userAgent: "customermates-crm",
            },
            requestId: randomUUID(),
            routeKey: "POST /v1/events",
            stage: "$default",
            time: new Date().toUTCString(),
            timeEpoch: Date.now(),
          },
          body,
          isBase64Encoded: false,
        };
        return {
          event,
          async check(answer) {
            const { statusCode, body } = answer as { statusCode: number; body: string };
            if (statusCode !== 202) throw new Error(`status ${statusCode}, not 202`);
            const { deliveries: count } = JSON.parse(body) as { deliveries: number };
            if (count !== 1) throw new Error(`${count} deliveries, not 1`);
          },
        };
      },
    },
    deliver: {
      key: "deliver",
      event: "one SQS record (first receive) of a stored event, to a local receiver",
      async prepare() {
        const now = Date.now();
        const stored = storedEventOf(
          {
            workspaceId,
            subscriptions: [subscription],
            event: "service.created",
            data: { id: "s_1", name: "x" },
          },
          now,
        );
        const created = await events.create(stored);
        if (!created.created) throw new Error("the event was not stored");
        const [message] = messagesFor(stored);
        if (!message) throw new Error("the event has no delivery");
        const event: SQSEvent = {
          Records: [
            {
              messageId: randomUUID(),
              receiptHandle: `coldstart-${randomUUID()}`,
              body: encodeMessage(message),
              attributes: {
                ApproximateReceiveCount: "1",
                SentTimestamp: String(now),
                SenderId: "AROACOLDSTART",
                ApproximateFirstReceiveTimestamp: String(now),
              },
              messageAttributes: {},
              md5OfBody: "",
              eventSource: "aws:sqs",
              eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${queueName}`,
              awsRegion: "us-east-1",
            },
          ],
        };
        const before = receiver.requests.length;
        return {
          event,
          async check(answer) {
            if (!isDeepStrictEqual(answer, { batchItemFailures: [] })) {
              throw new Error("item failures");
            }
            const got = receiver.requests.slice(before);
            if (got.length !== 1 || got[0]?.headers["webhook-id"] !== message.d) {
              throw new Error(`the receiver got ${got.length} requests, not this delivery`);
            }
            const record = await deliveries.get(workspaceId, message.d);
            if (record?.status !== "succeeded") {
              throw new Error(`the delivery is recorded ${record?.status ?? "nowhere"}`);
            }
          },
        };
      },
    },
    resend: {
      key: "resend",
      event: 'the scheduled {"action":"sweep"}, nothing to finish',
      async prepare() {
        return {
          event: { action: "sweep" },
          async check(answer) {
            const expected = {
              action: "sweep",
              strandedFailed: 0,
              strandedLeft: 0,
              claimsRequeued: 0,
              claimsCanceled: 0,
              claimsLeft: 0,
            };
            if (!isDeepStrictEqual(answer, expected)) throw new Error("not an empty sweep");
          },
        };
      },
    },
  };
}

export function formatColdStart(report: ColdStartReport): string {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  const ms = (s: Spread) =>
    `${s.median.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})`.padEnd(15);
  const heads = ["cold start", "node start", "import", "first call", "CPU", "queued"];
  const lines = [
    `Cold start: a fresh Node ${report.node} process configured as on Lambda imports the bundle and handles one event against the emulators; ms, median (range) of ${report.options.runs} interleaved runs; ${report.cpu}.`,
    "cold start: from process start to the answer (node start, import, first call); CPU: its user + system time to it; queued: how long of it its main thread waited for a CPU other processes held.",
  ];
  for (const fn of report.functions) {
    const width = Math.max(16, ...fn.bundles.map((b) => b.label.length + 1));
    lines.push(
      "",
      `${fn.name}: ${fn.event}`,
      `  calls: ${countCalls(fn.calls)}`,
      `  ${"".padEnd(width)}${"bytes".padStart(9)}  ${heads.map((h) => h.padEnd(15)).join("")}`,
    );
    for (const b of fn.bundles) {
      lines.push(
        `  ${b.label.padEnd(width)}${kb(b.bytes).padStart(9)}  ${FIGURES.map((f) => ms(b.figures[f])).join("")}`,
      );
    }
    const ratios: Array<readonly [string, Ratio]> = Object.entries(fn.ratios).map(
      ([label, r]) => [`${label} ÷ floor`, r] as const,
    );
    const against = againstValidatedFloor(fn);
    if (against) ratios.push([`function ÷ ${against.label}`, against.ratio]);
    const ratioWidth = Math.max(25, ...ratios.map(([label]) => label.length));
    for (const [label, r] of ratios) {
      const busy =
        r.busy > BUSY_SHARE
          ? ` — busy machine (waits for a CPU ${(r.busy * 100).toFixed(0)} % of the floor's cold start): trust the CPU ratio, or rerun`
          : "";
      const verdict =
        label === "function ÷ floor"
          ? `  budget ≤ ${COLD_START_BUDGET}×: ${r.ratio <= COLD_START_BUDGET ? "pass" : "MISS"}${busy}`
          : "";
      lines.push(
        `  ${label.padEnd(ratioWidth)} ${r.ratio.toFixed(2)}× (rounds ${r.rounds.min.toFixed(2)}–${r.rounds.max.toFixed(2)}), CPU ${r.cpuRatio.toFixed(2)}×${verdict}`,
      );
    }
  }
  for (const profile of report.profiles ?? []) lines.push("", profile);
  return lines.join("\n");
}

export function coldStartOptionsFromEnv(env = process.env): ColdStartOptions {
  const functions = (env.COLDSTART_FUNCTIONS ?? "api,deliver,resend")
    .split(",")
    .map((f) => f.trim())
    .filter(Boolean);
  for (const f of functions) {
    if (!(f in FUNCTIONS))
      throw new Error(`COLDSTART_FUNCTIONS: unknown ${f}; api, deliver, resend`);
  }
  // The validated floors by default: every run shows how much of the budget the contract takes.
  const variants = (env.COLDSTART_VARIANT ?? "validated-floor")
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);
  for (const v of variants) {
    if (!VARIANTS.includes(v as Variant)) {
      throw new Error(`COLDSTART_VARIANT: unknown ${v}; ${VARIANTS.join(", ")}`);
    }
  }
  return {
    runs: Number(env.COLDSTART_RUNS ?? 11),
    functions: functions as FunctionKey[],
    variants: variants as Variant[],
    profileDir: env.COLDSTART_PROFILE || undefined,
  };
}

if (import.meta.main) {
  const report = await runColdStart(coldStartOptionsFromEnv());
  console.log(formatColdStart(report));
  await handOver(report);
}
