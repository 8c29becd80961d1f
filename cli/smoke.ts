import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { CRM_EVENT_NAMES, type CrmEventName } from "../shared/catalog.ts";
import { eventSpec } from "../shared/events.ts";
import { ApiClient, ApiError } from "../shared/http/client.ts";
import { newUlid } from "../shared/ids.ts";
import { parseBearer } from "../shared/keys.ts";
import { SAMPLE_RECEIVER_HEADER } from "../shared/sample-receiver.ts";
import { hexSignature } from "../shared/signing.ts";
import { STACK_OUTPUTS, type StackOutput } from "../shared/stack-outputs.ts";
import { invokeResend } from "./operator.ts";
import { isLoopbackUrl } from "./options.ts";
import { type Deployment, StackError } from "./stack.ts";

/**
 * `npm run smoke`: checks a running deployment end to end, as a customer and an operator would
 * use it, and cleans up what it made. Each check prints one line, ✓ or ✗; any ✗ makes the exit
 * code 1. It makes one subscription of its own (to the receiver the operator names, for an
 * event no other subscription of the workspace takes, so that no customer endpoint gets its
 * event), a test send, one event and its delivery; it deletes the subscription whatever
 * happens. The event and its delivery stay in the history until the retention ends, marked by
 * their ids (`smoke-…`).
 */
export interface SmokeOptions {
  apiUrl: string;
  /** The workspace's admin and ingest keys (from the environment). */
  adminKey: string;
  ingestKey: string;
  /** An HTTPS endpoint that answers 2xx (the sample receiver verifies the signatures). */
  receiverUrl: string;
  /** The receiver's signing secret (the sample receiver's --secret); generated when absent. */
  receiverSecret?: string | undefined;
  /** The resend function to reach (its name; the local stack's is `webhooks-resend`). */
  resendFunction: string;
  env: Record<string, string | undefined>;
  /** How long to wait for the delivery (ms). */
  deliveryTimeoutMs?: number;
  print: (line: string) => void;
  /** Between polls of the delivery (ms). */
  pollMs?: number;
}

/** The local stack's resend function (local/stack.ts). */
const LOCAL_RESEND_FUNCTION = "webhooks-resend";
const LOCAL_API = "http://127.0.0.1:3000";

/**
 * Where the smoke test goes: what the command line names first, then the stack's outputs
 * (`--stack`), then the environment; the local stack by default. A deployment elsewhere needs
 * its resend function named (`--stack`, or `--function`).
 */
export async function smokeTarget(
  given: {
    stack?: string | undefined;
    apiUrl?: { value: string; fromCommandLine: boolean } | undefined;
    resendFunction?: { value: string; fromCommandLine: boolean } | undefined;
  },
  describe: (stack: string) => Promise<Deployment>,
): Promise<{ apiUrl: string; resendFunction: string }> {
  const deployment = given.stack ? await describe(given.stack) : undefined;
  const pick = (
    option: { value: string; fromCommandLine: boolean } | undefined,
    output: StackOutput,
  ) =>
    option?.fromCommandLine ? option.value : deployment ? deployment.output(output) : option?.value;
  const apiUrl = pick(given.apiUrl, STACK_OUTPUTS.apiUrl) ?? LOCAL_API;
  const resendFunction =
    pick(given.resendFunction, STACK_OUTPUTS.resendFunction) ??
    (isLoopbackUrl(apiUrl) ? LOCAL_RESEND_FUNCTION : undefined);
  if (!resendFunction) {
    throw new StackError(
      "name the resend function: --stack <name>, or --function <ResendFunctionName>",
    );
  }
  return { apiUrl, resendFunction };
}

export interface SmokeCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/** A check that did not pass, with why; thrown to stop the checks that depend on it. */
class Failed extends Error {}

const describeError = (error: unknown): string =>
  error instanceof ApiError
    ? `HTTP ${error.status}: ${error.problem.detail ?? error.problem.title ?? ""}`.trim()
    : (error as Error).message;

/** Runs every check; resolves with them (any `ok: false` is a failure). Never throws. */
export async function runSmoke(options: SmokeOptions): Promise<SmokeCheck[]> {
  const checks: SmokeCheck[] = [];
  const record = (name: string, ok: boolean, detail: string) => {
    checks.push({ name, ok, detail });
    options.print(`  ${ok ? "✓" : "✗"} ${name.padEnd(22)} ${detail}`);
  };
  const check = async (name: string, run: () => Promise<string>): Promise<boolean> => {
    try {
      record(name, true, await run());
      return true;
    } catch (error) {
      record(name, false, describeError(error));
      return false;
    }
  };
  const anonymous = new ApiClient(options.apiUrl);
  const admin = new ApiClient(options.apiUrl, { key: options.adminKey });
  const ingest = new ApiClient(options.apiUrl, { key: options.ingestKey });
  const refused = async (status: number, call: () => Promise<unknown>) => {
    try {
      await call();
    } catch (error) {
      if (error instanceof ApiError && error.status === status) return `refused with ${status}`;
      throw error;
    }
    throw new Failed(`answered 2xx; expected ${status}`);
  };

  let workspaceId = "";
  options.print(`Smoke test of ${options.apiUrl}, receiver ${options.receiverUrl}`);
  const healthy = await check("health", async () => {
    const answer = await anonymous.call("GET /health");
    if (answer.status !== "ok") throw new Failed(`answered ${JSON.stringify(answer)}`);
    return "GET /health: ok";
  });
  // Nothing else can pass without the API, and nothing was made yet.
  if (!healthy) return finish();
  const keysOk = await check("keys", async () => {
    const [a, i] = [
      parseBearer(`Bearer ${options.adminKey}`),
      parseBearer(`Bearer ${options.ingestKey}`),
    ];
    if (a.workspaceId !== i.workspaceId) {
      throw new Failed(
        `the admin key is workspace ${a.workspaceId}'s, the ingest key ${i.workspaceId}'s`,
      );
    }
    workspaceId = a.workspaceId;
    const keys = await admin.call("GET /v1/keys");
    return `workspace ${workspaceId}: the admin key lists its ${keys.data.length} keys`;
  });
  await check("refuses no key", () => refused(401, () => anonymous.call("GET /v1/subscriptions")));
  await check("refuses a wrong key", () =>
    refused(401, () =>
      new ApiClient(options.apiUrl, {
        key: `whk_${workspaceId || "smoke"}_${randomBytes(32).toString("hex")}`,
      }).call("GET /v1/subscriptions"),
    ),
  );
  await check(
    "refuses the ingest key",
    async () =>
      `${await refused(403, () => ingest.call("GET /v1/subscriptions"))} on GET /v1/subscriptions`,
  );

  let subscriptionId: string | undefined;
  /** The checks that need the smoke's own subscription; they stop at the first that fails. */
  const throughASubscription = async () => {
    if (!keysOk) {
      record("subscription", false, "skipped: the keys did not check out");
      return;
    }
    let event: CrmEventName | undefined;
    let secret = options.receiverSecret;
    const created = await check("subscription", async () => {
      // An event no subscription of the workspace takes: nobody else is sent the smoke's.
      const taken = new Set(
        (await admin.call("GET /v1/subscriptions")).data.flatMap((s) => s.events),
      );
      event = CRM_EVENT_NAMES.find((name) => !taken.has(name));
      if (!event) {
        throw new Failed(
          "every event has a subscription in this workspace; run the smoke test in a workspace of its own",
        );
      }
      const subscription = await admin.call("POST /v1/subscriptions", {
        body: {
          url: options.receiverUrl,
          events: [event],
          description: `npm run smoke, ${new Date().toISOString()}: deleted when it ends`,
          ...(secret ? { secret } : { generateSecret: true }),
        },
      });
      subscriptionId = subscription.id;
      secret ??= subscription.secret ?? undefined;
      return `${subscription.id} for ${event}, to ${options.receiverUrl}`;
    });
    if (!created || !event || !subscriptionId || !secret) return;
    const id = subscriptionId;
    const name = event;
    const key = secret;

    await check("test send", async () => {
      const sent = await admin.call("POST /v1/subscriptions/{id}/test", {
        params: { id },
        body: { event: name },
      });
      if (sent.status !== "succeeded") {
        throw new Failed(
          `failed: ${sent.response ? `the receiver answered ${sent.response.status}` : (sent.error?.class ?? "no answer")}${sent.error ? ` (${sent.error.message})` : ""}`,
        );
      }
      return `answered ${sent.response?.status} in ${sent.durationMs} ms`;
    });

    const eventId = `smoke-${newUlid()}`;
    const accepted = await check("event accepted", async () => {
      const answer = await ingest.call("POST /v1/events", {
        body: { id: eventId, event: name, data: eventSpec(name).example.data },
      });
      if (answer.deliveries !== 1) {
        throw new Failed(
          `${answer.deliveries} deliveries, expected 1 (another subscription took ${name} meanwhile?)`,
        );
      }
      return `${eventId} (${name}), with the ingest key: 1 delivery`;
    });

    let deliveryId: string | undefined;
    const delivered =
      accepted &&
      (await check("delivery recorded", async () => {
        const deadline = Date.now() + (options.deliveryTimeoutMs ?? 30_000);
        for (;;) {
          const page = await admin.call("GET /v1/deliveries", {
            query: { subscriptionId: id, test: false },
          });
          const found = page.data.find((d) => d.eventId === eventId);
          if (found && found.attemptCount > 0) {
            deliveryId = found.id;
            if (found.status !== "succeeded") {
              throw new Failed(
                `${found.id} is ${found.status}: ${found.lastError ?? "no error recorded"}`,
              );
            }
            return `${found.id} succeeded`;
          }
          if (Date.now() > deadline) {
            throw new Failed(
              `no attempt recorded within ${Math.round((options.deliveryTimeoutMs ?? 30_000) / 1000)} s: is the deliver function running?`,
            );
          }
          await new Promise((done) => setTimeout(done, options.pollMs ?? 500));
        }
      }));

    if (delivered && deliveryId) {
      const recorded = deliveryId;
      await check("signature verified", async () => {
        const delivery = await admin.call("GET /v1/deliveries/{id}", { params: { id: recorded } });
        const attempt = delivery.attempts.find((a) => a.outcome === "succeeded");
        if (!attempt) throw new Failed("no successful attempt in the record");
        const payload = delivery.payload;
        if (payload === null) throw new Failed("the record has no payload (its event expired?)");
        const headers = Object.fromEntries(
          Object.entries(attempt.request.headers).map(([k, v]) => [k.toLowerCase(), v]),
        );
        // The recorded request carries both signatures; both must verify with the secret.
        if (headers["x-webhook-signature"] !== hexSignature(key, payload)) {
          throw new Failed("X-Webhook-Signature does not match the payload");
        }
        try {
          new Webhook(key, key.startsWith("whsec_") ? undefined : { format: "raw" }).verify(
            payload,
            headers,
          );
        } catch (error) {
          throw new Failed(`webhook-signature: ${(error as Error).message}`);
        }
        const verdict = attempt.response?.headers[SAMPLE_RECEIVER_HEADER];
        if (verdict === undefined) {
          return "both signatures of the recorded request verify (the receiver is not the sample receiver: its own check is not known)";
        }
        if (verdict !== "verified") {
          throw new Failed(
            `the sample receiver says "${verdict}": start it with the same secret (--secret or WEBHOOK_SECRET)`,
          );
        }
        return "both signatures verify, and the sample receiver verified them too";
      });
    }
  };

  try {
    await throughASubscription();
  } catch (error) {
    record("unexpected error", false, describeError(error));
  } finally {
    await check("dead letters", async () => {
      const summary = await admin.call("GET /v1/dlq");
      return `${summary.depthExact ? "" : "at least "}${summary.depth} waiting${summary.oldestFailedAt ? `, the oldest failed at ${summary.oldestFailedAt}` : ""}`;
    });
    await check("resend function", async () => {
      // A resend of a delivery that cannot exist: it reaches the function and the table,
      // and changes nothing.
      const nobody = `dlv_${"0".repeat(42)}`;
      const result = await invokeResend(
        { apiUrl: options.apiUrl },
        options.env,
        options.resendFunction,
        {
          action: "resend",
          workspaceId: workspaceId || "smoke",
          deliveryId: nobody,
        },
      );
      if (result.outcome !== "not-found") throw new Failed(`answered ${JSON.stringify(result)}`);
      return `${options.resendFunction} answered (a resend of nothing: not-found)`;
    });
    if (subscriptionId) {
      const id = subscriptionId;
      await check("clean-up", async () => {
        await admin.call("DELETE /v1/subscriptions/{id}", { params: { id } });
        return `deleted ${id}`;
      });
    }
  }
  return finish();

  function finish() {
    const failed = checks.filter((c) => !c.ok).length;
    options.print(
      failed === 0
        ? `All ${checks.length} checks passed.`
        : `${failed} of ${checks.length} checks failed.`,
    );
    return checks;
  }
}
