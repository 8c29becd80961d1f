import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleSizes } from "../../infra/bundles.ts";
import { newKeyId, newSubscriptionId } from "../../shared/ids.ts";
import { generateApiKey, hashApiKey } from "../../shared/keys.ts";
import { generateSecret } from "../../shared/signing.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import { type LocalAws, startLocalAws } from "../helpers/aws-local.ts";
import { startServer, type TestServer } from "../helpers/http-server.ts";
import { sealedSecret, TEST_KEY_FILE } from "../helpers/secrets.ts";

/**
 * The artifacts `cdk deploy` would upload — the esbuild bundles in cdk.out, with their
 * credential alias, trimmed undici and require shim — run in a fresh Node process against
 * the emulators: ingest through the API bundle, deliver with the deliver bundle, resend with
 * the resend bundle.
 */
const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
let outDir: string;
let aws: LocalAws;
let receiver: TestServer;
let bundles: Record<string, string>;

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), "webhooks-cdk-"));
  await run(
    process.execPath,
    [join(ROOT, "node_modules/aws-cdk/bin/cdk"), "synth", "--quiet", "--output", outDir],
    { cwd: ROOT },
  );
  bundles = Object.fromEntries(
    (await bundleSizes(outDir)).map((b) => [b.name, join(outDir, b.path, "index.mjs")]),
  );
  aws = await startLocalAws([0, 1, 2]);
  receiver = await startServer();
}, 120_000);
afterAll(async () => {
  await receiver?.close();
  await aws?.stop();
  await rm(outDir, { recursive: true, force: true });
});

/** Imports a bundle in a new process and calls its handler with `event`. */
async function invoke(bundle: string, event: unknown): Promise<unknown> {
  const name = join(outDir, `invoke-${Math.random().toString(36).slice(2)}`);
  // The functions log to stdout, as on Lambda: the result goes to a file of its own.
  await writeFile(
    `${name}.mjs`,
    `import { writeFileSync } from "node:fs";
const { handler } = await import(${JSON.stringify(bundle)});
const context = { getRemainingTimeInMillis: () => 60000, awsRequestId: "bundle-test" };
writeFileSync(${JSON.stringify(`${name}.json`)}, JSON.stringify(await handler(${JSON.stringify(event)}, context)));`,
  );
  await run(process.execPath, [`${name}.mjs`], {
    env: {
      PATH: process.env.PATH ?? "",
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "bundle",
      AWS_SECRET_ACCESS_KEY: "bundle",
      AWS_ENDPOINT_URL_DYNAMODB: aws.emulators.dynamoEndpoint,
      AWS_ENDPOINT_URL_SQS: aws.emulators.sqsEndpoint,
      WEBHOOKS_TABLE_NAME: aws.tableName,
      WEBHOOKS_QUEUE_URL: aws.queueUrl,
      WEBHOOKS_DLQ_URL: aws.deadLetterQueueUrl,
      WEBHOOKS_STRANDED_QUEUE_URL: aws.strandedQueueUrl,
      WEBHOOKS_SLOW_QUEUE_URL: aws.slowQueueUrl,
      WEBHOOKS_ALLOW_LOOPBACK_HTTP: "true",
      WEBHOOKS_SECRET_KEY_FILE: TEST_KEY_FILE,
    },
  });
  return JSON.parse(await readFile(`${name}.json`, "utf8"));
}

describe("the deployable bundles", () => {
  it("are built by the synth, one per function", () => {
    expect(Object.keys(bundles).sort()).toEqual([
      "ApiFunction",
      "DeliverFunction",
      "ResendFunction",
    ]);
  });

  it("ingest, deliver (signed, over the trimmed undici) and resend", async () => {
    const store = new DynamoWorkspaceStore(aws.table);
    const key = generateApiKey("bundles");
    await store.putKey({
      id: newKeyId(),
      workspaceId: "bundles",
      hash: hashApiKey(key),
      role: "ingest",
      name: "i",
      hint: "h",
      createdAt: new Date().toISOString(),
    });
    const secret = generateSecret();
    const subscriptionId = newSubscriptionId();
    await store.createSubscription({
      id: subscriptionId,
      workspaceId: "bundles",
      url: `${receiver.url}/in`,
      events: ["service.created"],
      enabled: true,
      description: "",
      secret: await sealedSecret("bundles", subscriptionId, secret),
      previousSecrets: [],
      createdAt: "2026-11-26T00:00:00.000Z",
      updatedAt: "2026-11-26T00:00:00.000Z",
    });

    const accepted = (await invoke(bundles.ApiFunction ?? "", {
      version: "2.0",
      routeKey: "POST /v1/events",
      rawPath: "/v1/events",
      rawQueryString: "",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      requestContext: { http: { method: "POST", path: "/v1/events" }, requestId: "r" },
      body: '{"event":"service.created","data":{"id":"s_1"}}',
      isBase64Encoded: false,
    })) as { statusCode: number; body: string };
    expect(accepted.statusCode).toBe(202);
    expect(JSON.parse(accepted.body)).toMatchObject({ deliveries: 1 });

    const { Messages = [] } = await aws.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.queueUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ["All"],
      }),
    );
    expect(Messages).toHaveLength(1);
    const records = Messages.map((m) => ({
      messageId: m.MessageId,
      receiptHandle: m.ReceiptHandle,
      body: m.Body,
      attributes: { ApproximateReceiveCount: "1" },
      messageAttributes: {},
      eventSource: "aws:sqs",
      eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${aws.queueUrl.split("/").at(-1)}`,
    }));
    expect(await invoke(bundles.DeliverFunction ?? "", { Records: records })).toEqual({
      batchItemFailures: [],
    });
    const [got] = await receiver.waitFor(1);
    expect(new Webhook(secret).verify(got?.body ?? "", got?.headers ?? {})).toMatchObject({
      event: "service.created",
    });

    const deliveryId = got?.headers["webhook-id"];
    expect(
      await invoke(bundles.ResendFunction ?? "", {
        action: "resend",
        workspaceId: "bundles",
        deliveryId,
      }),
    ).toEqual({
      action: "resend",
      deliveryId,
      outcome: "queued",
      generation: 1,
    });
  });

  it("serve the OpenAPI document and send a test delivery: the modules the API loads on first use", async () => {
    const call = async (method: string, path: string, key?: string, body?: string) =>
      (await invoke(bundles.ApiFunction ?? "", {
        version: "2.0",
        routeKey: `${method} ${path.replace(/sub_\w+/, "{id}")}`,
        rawPath: path,
        rawQueryString: "",
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(body ? { "content-type": "application/json" } : {}),
        },
        pathParameters: { id: /sub_\w+/.exec(path)?.[0] ?? "" },
        requestContext: { http: { method, path }, requestId: "r" },
        ...(body ? { body } : {}),
        isBase64Encoded: false,
      })) as { statusCode: number; body: string };

    const served = await call("GET", "/v1/openapi.json");
    expect(served.statusCode).toBe(200);
    const committed = await readFile(join(ROOT, "docs/openapi.json"), "utf8");
    expect(JSON.parse(served.body)).toEqual(JSON.parse(committed));

    const store = new DynamoWorkspaceStore(aws.table);
    const admin = generateApiKey("bundles");
    await store.putKey({
      id: newKeyId(),
      workspaceId: "bundles",
      hash: hashApiKey(admin),
      role: "admin",
      name: "a",
      hint: "h",
      createdAt: new Date().toISOString(),
    });
    const [subscription] = await store.listSubscriptions("bundles");
    const before = receiver.requests.length;
    const sent = await call("POST", `/v1/subscriptions/${subscription?.id}/test`, admin, "{}");
    expect(sent.statusCode, sent.body).toBe(200);
    expect(JSON.parse(sent.body)).toMatchObject({ status: "succeeded", event: "service.created" });
    expect(receiver.requests).toHaveLength(before + 1);
  });
});
