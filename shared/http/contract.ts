import * as z from "zod/mini";
import type { Capability, Role } from "../roles.ts";
import {
  DeadLetterQuery,
  DeliveryListQuery,
  EventBatchEnvelope,
  EventBatchInput,
  EventInput,
  EventTypesQuery,
  KeyCreate,
  MAX_BATCH_BYTES,
  PortalSessionCreate,
  RedriveInput,
  ReplayInput,
  RotateSecretInput,
  StatsQuery,
  SubscriptionCreate,
  SubscriptionPatch,
  TestSendInput,
} from "../schemas.ts";
import * as R from "./resources.ts";

/**
 * The HTTP API's contract: every route, once. The router and its auth rules
 * (shared/http/routes.ts, functions/api/routes.ts), the CDK routes (infra/api.ts), the OpenAPI
 * document (shared/http/openapi.ts, docs/openapi.json), the typed client (shared/http/client.ts,
 * used by the CLI) and the contract tests all come from ROUTE_TABLE. Adding a route is one entry
 * here plus its handler in functions/api/routes.ts (the compiler asks for it).
 *
 * Plain data and zod schemas, no Node built-ins: a browser can import it.
 */
export type Tag =
  | "meta"
  | "events"
  | "subscriptions"
  | "deliveries"
  | "dead letters"
  | "keys"
  | "portal sessions";

export interface HeaderSpec {
  description: string;
  schema: z.ZodMiniType;
}

export interface ResponseSpec {
  description: string;
  /** The JSON body; none for 204. */
  schema?: z.ZodMiniType;
  headers?: Record<string, HeaderSpec>;
  example?: unknown;
}

export interface RouteSpec {
  /** Who may call it: no key at all, or a key with one of these roles. */
  auth: "public" | readonly Role[];
  /**
   * What a portal session (the web console, `POST /v1/portal-sessions`) needs to call it. A
   * route that names none is for keys only: keys, portal sessions, ingest.
   */
  capability?: Capability;
  tag: Tag;
  operationId: string;
  summary: string;
  description: string;
  /** Path parameters by name (each `{name}` of the path), with what they are. */
  params?: Record<string, string>;
  /** Query parameters, as a strict object of optional strings. */
  query?: z.ZodMiniType;
  /** Request headers besides Authorization. */
  headers?: Record<string, HeaderSpec>;
  /**
   * A JSON body; `required: false` lets it be left out (then `{}` is meant). `parse`: what the
   * router checks instead of `schema` when the handler checks the parts itself (a batch answers
   * per item); `maxBytes`: the body's limit, 256 KiB unless said.
   */
  body?: {
    schema: z.ZodMiniType;
    required: boolean;
    example: unknown;
    parse?: z.ZodMiniType;
    maxBytes?: number;
  };
  /** The success answers by status. */
  responses: Record<number, ResponseSpec>;
  /** Refusals particular to this route (404, 409), by status: when they happen. */
  refusals?: Record<number, string>;
}

// Examples, shared by the routes' documented answers.
const SUB_ID = "sub_01JDX5Z7K3M8Q9RST0VWXYZ0AB";
const DLV_ID = "dlv_01JDX6A2B3C4D5E6F7G8H9JKMNM8Q9RST0VWXYZ0AB";
const KEY_ID = "key_01JDX4P1Q2R3S4T5V6W7X8Y9Z0";
const subscriptionExample = {
  id: SUB_ID,
  url: "https://hooks.example.com/crm",
  events: ["contact.created", "contact.updated"],
  enabled: true,
  description: "CRM sync",
  secret: "whsec_********",
  rotationEndsAt: null,
  failingSince: null,
  disabledReason: null,
  disabledAt: null,
  createdAt: "2026-11-26T09:00:00.000Z",
  updatedAt: "2026-11-26T09:00:00.000Z",
};
const deliverySummaryExample = {
  id: DLV_ID,
  eventId: "crm-evt-1",
  event: "contact.created",
  subscriptionId: SUB_ID,
  status: "succeeded",
  attemptCount: 1,
  lastError: null,
  nextAttemptAt: null,
  createdAt: "2026-11-26T10:00:00.120Z",
  updatedAt: "2026-11-26T10:00:00.120Z",
  test: false,
  reason: null,
};
const payloadExample =
  '{"event":"contact.created","data":{"id":"c_42","name":"Ada Lovelace"},"timestamp":"2026-11-26T10:00:00.000Z"}';
const responseExample = {
  status: 200,
  headers: { "content-type": "text/plain" },
  body: "ok",
  bodyEncoding: "utf-8",
  bodyTruncated: false,
};
const apiKeyExample = {
  id: KEY_ID,
  name: "crm",
  role: "ingest",
  hint: "whk_acme_3f9c…",
  createdAt: "2026-11-26T08:00:00.000Z",
  revokedAt: null,
};

const json = <S extends z.ZodMiniType>(description: string, schema: S, example: unknown) => ({
  description,
  schema,
  example,
});

export const ROUTE_TABLE = {
  "GET /health": {
    auth: "public",
    tag: "meta",
    operationId: "health",
    summary: "Liveness",
    description: "Answers while the API function runs. No key needed.",
    responses: { 200: json("Running.", R.Health, { status: "ok" }) },
  },
  "GET /v1/openapi.json": {
    auth: "public",
    tag: "meta",
    operationId: "getOpenApiDocument",
    summary: "This document",
    description:
      "The OpenAPI 3.1 document of this API, generated from the same route table the API runs on (a copy is docs/openapi.json). No key needed.",
    responses: {
      200: json("The OpenAPI document.", R.OpenApiDocument, {
        openapi: "3.1.0",
        info: { title: "Customermates Webhooks", version: "0.1.0" },
        paths: {},
      }),
    },
  },
  "GET /v1/meta/egress-ips": {
    auth: ["admin", "ingest"],
    tag: "meta",
    operationId: "getEgressIps",
    summary: "Where deliveries come from",
    description:
      "The public IP addresses deliveries leave from, for receivers to allow-list in their firewalls. `static: true` when the deployment sends from fixed addresses (its VPC option); otherwise `static: false` and the list is empty: deliveries come from AWS addresses that change. Both roles may read it: the CRM's integration (with its ingest key) may show it to customers setting up a receiver. It is the same for every workspace of a deployment.",
    responses: {
      200: json("The addresses.", R.EgressIps, {
        egressIps: ["203.0.113.10", "203.0.113.11"],
        static: true,
      }),
    },
  },
  "POST /v1/events": {
    auth: ["ingest", "admin"],
    tag: "events",
    operationId: "postEvent",
    summary: "Post a CRM event",
    description:
      "Accepts one event and fans it out to every subscription of it, each as its own delivery. `data` is the record; it must match the event's schema (`GET /v1/event-types`, the `webhooks` section): an `id`, the documented fields with their types, anything else as sent. Numbers keep their digits. With an `id` (or an `Idempotency-Key` header) a repeat answers as the first time, with `Idempotent-Replayed: true`, and delivers nothing twice.",
    headers: {
      "Idempotency-Key": {
        description: "The event id, instead of (or equal to) the body's `id`.",
        schema: z.string(),
      },
    },
    body: {
      schema: EventInput,
      required: true,
      example: {
        id: "crm-evt-1",
        event: "contact.created",
        data: { id: "c_42", name: "Ada Lovelace", email: "ada@example.com" },
      },
    },
    responses: {
      202: {
        description: "Stored and queued for every subscriber.",
        schema: R.EventAccepted,
        headers: {
          "Idempotent-Replayed": {
            description: "`true` when this answer repeats the first one for the same id.",
            schema: z.literal("true"),
          },
        },
        example: { id: "crm-evt-1", event: "contact.created", deliveries: 1 },
      },
    },
    refusals: { 409: "The event id was already used for a different event." },
  },
  "POST /v1/events/batch": {
    auth: ["ingest", "admin"],
    tag: "events",
    operationId: "postEventBatch",
    summary: "Post up to 100 CRM events at once",
    description:
      "Accepts up to 100 events in one request (a CRM import, a bulk edit), each under the rules of `POST /v1/events`: its schema, 256 KiB, its `id` as its idempotency key. The whole body may weigh 5 MiB. Every item gets its own answer, in the order sent: 202 with its delivery count (`replayed: true` when its id was seen before), or its own problem (409, 413, 422, or 503: retry that item with the same id). One bad item never holds back the others. The fan-out of all the events goes to the queue in full batches of ten messages.",
    body: {
      schema: EventBatchInput,
      parse: EventBatchEnvelope,
      maxBytes: MAX_BATCH_BYTES,
      required: true,
      example: {
        events: [
          { id: "crm-evt-1", event: "contact.created", data: { id: "c_42", name: "Ada Lovelace" } },
          { id: "crm-evt-2", event: "deal.updated", data: { id: "d_7", amount: 48000 } },
        ],
      },
    },
    responses: {
      200: json("Each item's outcome.", R.EventBatchResult, {
        accepted: 1,
        failed: 1,
        results: [
          {
            index: 0,
            status: 202,
            id: "crm-evt-1",
            event: "contact.created",
            deliveries: 2,
            replayed: false,
          },
          {
            index: 1,
            status: 422,
            id: "crm-evt-2",
            problem: {
              type: "/problems/validation-error",
              title: "The request is not valid",
              status: 422,
              detail: "events.1.data.id: Invalid input",
              errors: [{ field: "events.1.data.id", detail: "Invalid input" }],
            },
          },
        ],
      }),
    },
  },
  "GET /v1/event-types": {
    auth: ["admin"],
    capability: "read",
    tag: "events",
    operationId: "listEventTypes",
    summary: "The event catalog",
    description:
      "Every event: its name, what it means, the JSON Schema of the body a receiver gets, and an example. The same schemas are in this document's `webhooks` section.",
    query: EventTypesQuery,
    responses: {
      200: json("The catalog.", R.EventTypeList, {
        data: [
          {
            name: "contact.created",
            entity: "contact",
            action: "created",
            category: "crm",
            description: "A contact was created.",
            schema: { type: "object" },
            example: {
              event: "contact.created",
              data: { id: "c_42", name: "Ada Lovelace" },
              timestamp: "2026-11-26T10:00:00.000Z",
            },
          },
        ],
      }),
    },
  },
  "POST /v1/subscriptions": {
    auth: ["admin"],
    capability: "manage",
    tag: "subscriptions",
    operationId: "createSubscription",
    summary: "Subscribe an endpoint",
    description:
      "Subscribes an https endpoint (port 443 or an allowed port, a public address) to some events. A secret you send, or one generated with `generateSecret`, is shown in this answer only.",
    body: {
      schema: SubscriptionCreate,
      required: true,
      example: {
        url: "https://hooks.example.com/crm",
        events: ["contact.created", "contact.updated"],
        generateSecret: true,
        description: "CRM sync",
      },
    },
    responses: {
      201: {
        description: "Created; `secret` is in clear this once.",
        schema: R.Subscription,
        headers: { Location: { description: "The new subscription.", schema: z.string() } },
        example: { ...subscriptionExample, secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" },
      },
    },
    refusals: { 409: "The workspace has as many subscriptions as it may have." },
  },
  "GET /v1/subscriptions": {
    auth: ["admin"],
    capability: "read",
    tag: "subscriptions",
    operationId: "listSubscriptions",
    summary: "List subscriptions",
    description: "The workspace's subscriptions, secrets masked.",
    responses: {
      200: json("The subscriptions.", R.SubscriptionList, { data: [subscriptionExample] }),
    },
  },
  "GET /v1/subscriptions/{id}": {
    auth: ["admin"],
    capability: "read",
    tag: "subscriptions",
    operationId: "getSubscription",
    summary: "One subscription",
    description: "A subscription, its secret masked, with its endpoint's health.",
    params: { id: "The subscription's id." },
    responses: { 200: json("The subscription.", R.Subscription, subscriptionExample) },
    refusals: { 404: "No such subscription in this workspace." },
  },
  "PATCH /v1/subscriptions/{id}": {
    auth: ["admin"],
    capability: "manage",
    tag: "subscriptions",
    operationId: "updateSubscription",
    summary: "Change a subscription",
    description:
      "Changes any of its fields; they apply to the next attempt. A new secret replaces the old one at once (`rotate-secret` keeps the old one for a grace period); `secret: null` stops signing. Enabling a disabled subscription answers with `missed`, the window it missed.",
    params: { id: "The subscription's id." },
    body: {
      schema: SubscriptionPatch,
      required: true,
      example: { enabled: true },
    },
    responses: {
      200: json("The subscription as it is now.", R.SubscriptionUpdated, {
        ...subscriptionExample,
        missed: { from: "2026-11-25T22:00:00.000Z", to: "2026-11-26T09:30:00.000Z" },
      }),
    },
    refusals: {
      404: "No such subscription in this workspace.",
      409: "It changed while this update ran; read it and retry.",
    },
  },
  "DELETE /v1/subscriptions/{id}": {
    auth: ["admin"],
    capability: "manage",
    tag: "subscriptions",
    operationId: "deleteSubscription",
    summary: "Delete a subscription",
    description: "Deletes it; deliveries still pending for it are canceled at their next turn.",
    params: { id: "The subscription's id." },
    responses: { 204: { description: "Deleted." } },
    refusals: { 404: "No such subscription in this workspace." },
  },
  "POST /v1/subscriptions/{id}/rotate-secret": {
    auth: ["admin"],
    capability: "manage",
    tag: "subscriptions",
    operationId: "rotateSecret",
    summary: "Rotate the signing secret",
    description:
      "A new secret (yours, or generated), shown in this answer only. The old one keeps signing, in `webhook-signature`, for the grace period (24 hours by default, at most 7 days).",
    params: { id: "The subscription's id." },
    body: { schema: RotateSecretInput, required: false, example: { gracePeriodSeconds: 3600 } },
    responses: {
      200: json("The subscription with its new secret in clear.", R.Subscription, {
        ...subscriptionExample,
        secret: "whsec_NfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        rotationEndsAt: "2026-11-26T10:00:00.000Z",
      }),
    },
    refusals: {
      404: "No such subscription in this workspace.",
      409: "It changed while the rotation ran; retry.",
    },
  },
  "POST /v1/subscriptions/{id}/test": {
    auth: ["admin"],
    capability: "manage",
    tag: "subscriptions",
    operationId: "testSubscription",
    summary: "Send a test delivery now",
    description:
      "Sends the example of an event (`event`, by default the subscription's first) to the endpoint now, signed like any delivery, through the same destination checks, even while the subscription is disabled, and answers what happened (waiting at most 8 seconds). It is recorded as a delivery with `test: true` (`GET /v1/deliveries?test=true`), with its payload; it is never retried, resent or dead-lettered.",
    params: { id: "The subscription's id." },
    body: { schema: TestSendInput, required: false, example: { event: "contact.created" } },
    responses: {
      200: json(
        "What the endpoint answered (`status: failed` when it did not answer 2xx in time, or was refused).",
        R.TestSendResult,
        {
          deliveryId: DLV_ID,
          eventId: "test_01JDX6A2B3C4D5E6F7G8H9JKMN",
          event: "contact.created",
          status: "succeeded",
          durationMs: 84,
          response: responseExample,
          error: null,
        },
      ),
    },
    refusals: { 404: "No such subscription in this workspace." },
  },
  "GET /v1/subscriptions/{id}/stats": {
    auth: ["admin"],
    capability: "read",
    tag: "subscriptions",
    operationId: "getSubscriptionStats",
    summary: "A subscription's delivery statistics",
    description:
      "Attempts, successes and failures by error class, latency percentiles, the last success and failure and the endpoint's health, over the last 24 hours (default) or 7 days, with the attempts of every hour for a chart. Counted by the deliver function and written every few seconds (`WEBHOOKS_STATS_FLUSH_SECONDS`), so the latest attempts may take that long to show.",
    params: { id: "The subscription's id." },
    query: StatsQuery,
    responses: {
      200: json("The statistics.", R.SubscriptionStats, {
        subscriptionId: SUB_ID,
        window: "24h",
        from: "2026-11-25T11:00:00.000Z",
        to: "2026-11-26T10:30:00.000Z",
        attempts: 1240,
        succeeded: 1228,
        failed: 12,
        failedByClass: { http_status: 9, timeout: 3 },
        latencyMs: { p50: 100, p95: 500 },
        lastSuccessAt: "2026-11-26T10:29:58.120Z",
        lastFailureAt: "2026-11-26T08:12:01.003Z",
        health: { enabled: true, failingSince: null, disabledReason: null, disabledAt: null },
        hours: [{ hour: "2026-11-26T10:00:00.000Z", attempts: 52, succeeded: 52, failed: 0 }],
      }),
    },
    refusals: { 404: "No such subscription in this workspace." },
  },
  "GET /v1/deliveries": {
    auth: ["admin"],
    capability: "read",
    tag: "deliveries",
    operationId: "listDeliveries",
    summary: "List deliveries",
    description: "Newest first, a page at a time (`nextCursor`); filters combine.",
    query: DeliveryListQuery,
    responses: {
      200: json("One page.", R.DeliveryList, {
        data: [deliverySummaryExample],
        nextCursor: null,
      }),
    },
  },
  "GET /v1/deliveries/{id}": {
    auth: ["admin"],
    capability: "read",
    tag: "deliveries",
    operationId: "getDelivery",
    summary: "One delivery",
    description:
      "A delivery with the exact payload sent and every attempt: request headers (signatures, no secret), the receiver's status, headers and (capped) body, the duration and, for failures, an error class.",
    params: { id: "The delivery's id." },
    responses: {
      200: json("The delivery.", R.Delivery, {
        ...deliverySummaryExample,
        generation: 0,
        failedAt: null,
        deferrals: 0,
        deferredUntil: null,
        deferReason: null,
        attemptsOmitted: 0,
        payload: payloadExample,
        attempts: [
          {
            number: 1,
            generation: 0,
            startedAt: "2026-11-26T10:00:00.031Z",
            durationMs: 84,
            url: "https://hooks.example.com/crm",
            outcome: "succeeded",
            request: { headers: { "webhook-id": DLV_ID, "X-Webhook-Event": "contact.created" } },
            response: responseExample,
            error: null,
            nextAttemptAt: null,
            lane: "main",
          },
        ],
      }),
    },
    refusals: { 404: "No such delivery in this workspace." },
  },
  "POST /v1/deliveries/{id}/resend": {
    auth: ["admin"],
    capability: "resend",
    tag: "deliveries",
    operationId: "resendDelivery",
    summary: "Resend a delivery",
    description:
      "Sends it again, whatever its status: same id (so receivers can dedupe), a fresh schedule, the history kept.",
    params: { id: "The delivery's id." },
    responses: {
      202: json("Queued.", R.ResendAccepted, { id: DLV_ID, status: "pending", generation: 1 }),
    },
    refusals: {
      404: "No such delivery in this workspace.",
      409: "A resend is already under way, its event is past retention, its subscription is disabled or deleted, or it is a test send.",
    },
  },
  "POST /v1/deliveries/replay": {
    auth: ["admin"],
    capability: "resend",
    tag: "deliveries",
    operationId: "replayDeliveries",
    summary: "Resend a time window",
    description:
      "Resends one page (`limit`, at most 100) of the deliveries of events accepted between `from` and `to`; call again with `cursor` for the next. Items that cannot be resent are listed in `errors`, the rest go on.",
    body: {
      schema: ReplayInput,
      required: true,
      example: { from: "2026-11-26T08:00:00Z", to: "2026-11-26T12:00:00Z", status: ["failed"] },
    },
    responses: {
      200: json("What this page did.", R.ReplayResult, {
        queued: 12,
        skipped: 1,
        errors: [{ id: DLV_ID, reason: "subscription-deleted" }],
        nextCursor: null,
      }),
    },
  },
  "GET /v1/dlq": {
    auth: ["admin"],
    capability: "read",
    tag: "dead letters",
    operationId: "getDeadLetters",
    summary: "Dead letters",
    description:
      "How many of the workspace's deliveries failed for good and wait to be resent, and the oldest. The work is bounded whatever the depth: one read of at most 10,000 index entries; past that, `depth` is a floor and `depthExact` is false.",
    query: DeadLetterQuery,
    responses: {
      200: json("The summary.", R.DeadLetterSummary, {
        depth: 3,
        depthExact: true,
        oldestFailedAt: "2026-11-26T09:12:00.000Z",
        oldestAgeSeconds: 2880,
      }),
    },
  },
  "POST /v1/dlq/redrive": {
    auth: ["admin"],
    capability: "resend",
    tag: "dead letters",
    operationId: "redriveDeadLetters",
    summary: "Redrive dead letters",
    description:
      "Resends one page (`limit`, at most 100) of the workspace's dead letters, oldest first; call again with `cursor` for the next, until `nextCursor` is null (a page may move none and still have a cursor: a filtered page reads at most 2,000 index entries). Every dead letter is reached exactly once. Safe to run twice at once.",
    body: { schema: RedriveInput, required: false, example: { limit: 100 } },
    responses: {
      200: json("What this page did, and what is left.", R.RedriveResult, {
        moved: 3,
        skipped: 0,
        errors: [],
        left: 0,
        leftExact: true,
        nextCursor: null,
      }),
    },
  },
  "POST /v1/portal-sessions": {
    auth: ["admin"],
    tag: "portal sessions",
    operationId: "createPortalSession",
    summary: "Open a portal session",
    description:
      "A short-lived token for the web console, so an application (the CRM) can embed it without handing its admin key to a browser: open `/console#session=<token>` in an iframe or a window. The session may do what its `capabilities` say (`read`: see subscriptions, deliveries and dead letters; `manage`: create, change, rotate, test and delete subscriptions; `resend`: resend deliveries, replay, redrive) and, with `subscriptionIds`, only on those subscriptions and their deliveries. It lives `ttlSeconds` (default an hour, at most a day). The token is shown in this answer only; only its hash is stored.",
    body: {
      schema: PortalSessionCreate,
      required: true,
      example: { capabilities: ["read", "resend"], subscriptionIds: [SUB_ID], ttlSeconds: 3600 },
    },
    responses: {
      201: json("Created; `token` is in this answer only.", R.PortalSessionCreated, {
        id: "ses_01JDX7B1C2D3E4F5G6H7J8K9M0",
        token: "whp_acme_9b1d0c5e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d",
        workspaceId: "acme",
        capabilities: ["read", "resend"],
        subscriptionIds: [SUB_ID],
        expiresAt: "2026-11-26T11:00:00.000Z",
        consolePath:
          "/console#session=whp_acme_9b1d0c5e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d",
      }),
    },
  },
  "DELETE /v1/portal-sessions/{id}": {
    auth: ["admin"],
    tag: "portal sessions",
    operationId: "revokePortalSession",
    summary: "End a portal session",
    description:
      "Ends the session at once, before it expires (the CRM's user signed out, say): its token is refused from the next request on.",
    params: { id: "The session's id (`ses_…`), from its creation's answer." },
    responses: { 204: { description: "Ended." } },
    refusals: {
      404: "No such portal session in this workspace (or it has expired and been removed).",
    },
  },
  "GET /v1/whoami": {
    auth: ["admin"],
    capability: "read",
    tag: "portal sessions",
    operationId: "whoAmI",
    summary: "Who is calling",
    description:
      "What the caller's credential is and may do: an admin key (every capability, the whole workspace), or a portal session (its capabilities, its subscriptions, when it ends). The web console shows only what the caller may do.",
    responses: {
      200: json("The caller.", R.Caller, {
        workspaceId: "acme",
        kind: "portal-session",
        capabilities: ["read", "resend"],
        subscriptionIds: [SUB_ID],
        expiresAt: "2026-11-26T11:00:00.000Z",
      }),
    },
  },
  "POST /v1/keys": {
    auth: ["admin"],
    tag: "keys",
    operationId: "createKey",
    summary: "Create an API key",
    description: "A new key of the workspace; the key itself is in this answer only.",
    body: { schema: KeyCreate, required: true, example: { role: "ingest", name: "crm" } },
    responses: {
      201: json("Created.", R.ApiKeyCreated, {
        ...apiKeyExample,
        key: "whk_acme_3f9c0d5e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d",
      }),
    },
    refusals: { 409: "The workspace has 50 active keys, the most it may have." },
  },
  "GET /v1/keys": {
    auth: ["admin"],
    tag: "keys",
    operationId: "listKeys",
    summary: "List API keys",
    description: "The workspace's keys: ids, names, roles, hints and dates, never the keys.",
    responses: { 200: json("The keys.", R.ApiKeyList, { data: [apiKeyExample] }) },
  },
  "DELETE /v1/keys/{id}": {
    auth: ["admin"],
    tag: "keys",
    operationId: "revokeKey",
    summary: "Revoke an API key",
    description: "Revokes it at once. The last active admin key cannot be revoked.",
    params: { id: "The key's id." },
    responses: { 204: { description: "Revoked." } },
    refusals: {
      404: "No such key in this workspace.",
      409: "It is the workspace's last active admin key.",
    },
  },
} as const satisfies Record<string, RouteSpec>;

export type RouteTable = typeof ROUTE_TABLE;
export type RouteKey = keyof RouteTable;
export const ROUTE_KEYS = Object.keys(ROUTE_TABLE) as RouteKey[];

/** Routes anyone may call; the others need a key. */
export type PublicRouteKey = {
  [K in RouteKey]: RouteTable[K]["auth"] extends "public" ? K : never;
}[RouteKey];

export const PROBLEM_TITLES: Record<number, string> = {
  400: "Bad request: malformed JSON, an empty body, or a body where none belongs.",
  401: "No key, or a malformed, unknown or revoked key; or an unknown or expired portal session.",
  403: "The key's role, or the portal session's capabilities or subscriptions, do not allow this.",
  404: "Not found.",
  409: "Conflict.",
  413: "The body is above 256 KiB.",
  415: "The body was not sent as application/json.",
  422: "Wrong shape, an unknown field or a bad value; `errors` names each field.",
  500: "A fault on the service's side (logged); retrying may help.",
  503: "A storage or queue service is busy or failing; retry (with the same event id).",
};

/**
 * Every problem status a route can answer, with when: from its shape (a key, a body, a query,
 * a path parameter) and its own refusals. The OpenAPI document lists exactly these, and the
 * contract tests hold real answers to them.
 */
export function problemStatuses(spec: RouteSpec): Record<number, string> {
  const statuses: Record<number, string> = {};
  const add = (status: number, when = PROBLEM_TITLES[status] ?? "") => {
    statuses[status] = when;
  };
  if (spec.auth !== "public") {
    add(400);
    add(401);
    add(403);
    if (spec.body) {
      add(413);
      add(415);
    }
    if (spec.body || spec.query) add(422);
    if (spec.params) add(404);
    add(503);
  }
  for (const [status, when] of Object.entries(spec.refusals ?? {})) add(Number(status), when);
  add(500);
  return Object.fromEntries(Object.entries(statuses).sort(([a], [b]) => Number(a) - Number(b)));
}

// ——— Types derived from the table: what handlers return and what clients send and get ————

type Spec<K extends RouteKey> = RouteTable[K];

export type SuccessStatus<K extends RouteKey> = keyof Spec<K>["responses"] & number;

export type ResponseBody<
  K extends RouteKey,
  S extends SuccessStatus<K>,
> = Spec<K>["responses"][S] extends {
  schema: infer T extends z.ZodMiniType;
}
  ? z.output<T>
  : undefined;

/** The body of a route's success answer (undefined for 204). */
export type SuccessBody<K extends RouteKey> = {
  [S in SuccessStatus<K>]: ResponseBody<K, S>;
}[SuccessStatus<K>];

type ParamNames<P extends string> = P extends `${string}{${infer Name}}${infer Rest}`
  ? Name | ParamNames<Rest>
  : never;

export type PathParams<K extends RouteKey> = { [N in ParamNames<K>]: string };

export type RequestBody<K extends RouteKey> =
  Spec<K> extends {
    body: { schema: infer T extends z.ZodMiniType };
  }
    ? z.input<T>
    : never;

/** The parsed (validated) body a handler gets. */
export type ParsedBody<K extends RouteKey> =
  Spec<K> extends { body: { parse: infer P extends z.ZodMiniType } }
    ? z.output<P>
    : Spec<K> extends {
          body: { schema: infer T extends z.ZodMiniType };
        }
      ? z.output<T>
      : undefined;

export type QueryParams<K extends RouteKey> =
  Spec<K> extends {
    query: infer Q extends z.ZodMiniType;
  }
    ? z.input<Q>
    : never;

/** The parsed (validated) query a handler gets. */
export type ParsedQuery<K extends RouteKey> =
  Spec<K> extends {
    query: infer Q extends z.ZodMiniType;
  }
    ? z.output<Q>
    : undefined;

export type HasBody<K extends RouteKey> = Spec<K> extends { body: unknown } ? true : false;
export type BodyRequired<K extends RouteKey> =
  Spec<K> extends { body: { required: true } } ? true : false;
