import type { EventName } from "../catalog.ts";
import type { StoredEvent } from "../domain.ts";
import { eventSpec } from "../events.ts";
import type { TestSendBody } from "../http/resources.ts";
import { attemptView } from "../http/views.ts";
import { deliveryIdFor, newUlid } from "../ids.ts";
import { type RunContext, type RunEnd, withAttempt } from "../lifecycle.ts";
import type { DeliveryStore, EventStore, WebhookSender, WorkspaceStore } from "../ports.ts";
import type { SecretOpener } from "../secrets/secret-box.ts";
import { deliveryHeaders } from "../signing.ts";
import { attemptDraft, classify, signingSecrets } from "./deliver-batch.ts";
import { getSubscription } from "./subscriptions.ts";

export interface TestSendDeps {
  subscriptions: WorkspaceStore;
  events: Pick<EventStore, "create">;
  deliveries: Pick<DeliveryStore, "put">;
  /** The deliver function's sender: same destination checks, same timeouts or shorter. */
  sender: WebhookSender;
  secrets: SecretOpener;
  responseBodyLimit: number;
  now?: () => number;
}

/**
 * A test send (`POST /v1/subscriptions/{id}/test`): the catalog's example of an event, signed
 * like every delivery and sent now through the same sender, to the subscription's endpoint
 * even while it is disabled. The example is stored as an event (so the delivery shows its
 * payload) and the one attempt as a delivery marked `test`: it ends succeeded or failed at
 * once, is never retried, and never enters the dead-letter index or queue (lifecycle's
 * `inDeadLetterIndex`). Its delivery id comes from a fresh event sequence, like any other.
 */
export async function testSend(
  workspaceId: string,
  subscriptionId: string,
  input: { event?: EventName | undefined },
  deps: TestSendDeps,
): Promise<TestSendBody> {
  const now = deps.now ?? Date.now;
  const subscription = await getSubscription(workspaceId, subscriptionId, deps.subscriptions);
  const name = input.event ?? subscription.events[0] ?? "contact.created";
  const started = now();
  const seq = newUlid(started);
  const example = eventSpec(name).example;
  const event: StoredEvent = {
    workspaceId,
    id: `test_${seq}`,
    name,
    body: JSON.stringify({
      event: name,
      data: example.data,
      timestamp: new Date(started).toISOString(),
    }),
    seq,
    receivedAt: new Date(started).toISOString(),
    targets: [subscription.id],
    requestHash: "test",
  };
  const stored = await deps.events.create(event);
  if (!stored.created) throw new Error(`test event id ${event.id} is taken`);

  const deliveryId = deliveryIdFor(seq, subscription.id);
  const headers = deliveryHeaders({
    deliveryId,
    event: name,
    body: event.body,
    timestamp: Math.floor(started / 1000),
    secrets: await signingSecrets(subscription, deps.secrets, started),
  });
  const result = await deps.sender.send({ url: subscription.url, headers, body: event.body });
  const verdict = classify(result, now());
  const end: RunEnd = verdict.verdict.ok
    ? { status: "succeeded" }
    : {
        status: "failed",
        reason: verdict.errorClass === "destination_refused" ? "refused" : "exhausted",
      };
  const draft = attemptDraft(result, verdict, {
    startedAt: started,
    url: subscription.url,
    headers,
    bodyLimit: deps.responseBodyLimit,
  });
  const run: RunContext = {
    workspaceId,
    deliveryId,
    eventId: event.id,
    event: name,
    subscriptionId: subscription.id,
    generation: 0,
    now: now(),
  };
  const delivery = { ...withAttempt(undefined, run, draft, end, verdict.summary), test: true };
  if (!(await deps.deliveries.put(delivery, { kind: "absent" }))) {
    throw new Error(`test delivery ${deliveryId} already exists`);
  }
  const attempt = attemptView(delivery.attempts[0] ?? { ...draft, number: 1, generation: 0 });
  return {
    deliveryId,
    eventId: event.id,
    event: name,
    status: end.status,
    durationMs: attempt.durationMs,
    response: attempt.response,
    error: attempt.error,
  };
}
