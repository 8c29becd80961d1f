import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { EVENT_TYPES } from "../../shared/catalog.ts";
import { type Config, networkPolicy } from "../../shared/config.ts";
import {
  ConflictError,
  MethodNotAllowedError,
  NotFoundError,
  ValidationError,
} from "../../shared/errors.ts";
import { header, jsonBody, noBody, query } from "../../shared/http/request.ts";
import { matchRoute, ROUTES, type RouteKey } from "../../shared/http/routes.ts";
import {
  apiKeyView,
  deliverySummaryView,
  deliveryView,
  subscriptionView,
} from "../../shared/http/views.ts";
import { ID_PATTERNS } from "../../shared/ids.ts";
import { parseBearer } from "../../shared/keys.ts";
import type {
  DeliveryQueue,
  DeliveryStore,
  EventStore,
  WorkspaceSnapshot,
  WorkspaceStore,
} from "../../shared/ports.ts";
import {
  DeadLetterQuery,
  DeliveryListQuery,
  EventId,
  EventInput,
  KeyCreate,
  RedriveInput,
  ReplayInput,
  RotateSecretInput,
  SubscriptionCreate,
  SubscriptionPatch,
} from "../../shared/schemas.ts";
import type { SecretSealer } from "../../shared/secrets/secret-box.ts";
import { authorize, findKey } from "../../shared/use-cases/authenticate.ts";
import { getDelivery, listDeliveries } from "../../shared/use-cases/deliveries.ts";
import { ingestEvent } from "../../shared/use-cases/ingest-event.ts";
import { createKey, revokeKey } from "../../shared/use-cases/keys.ts";
import {
  deadLetterSummary,
  redriveWorkspace,
  replayWindow,
  resendDelivery,
} from "../../shared/use-cases/resend.ts";
import {
  createSubscription,
  deleteSubscription,
  getSubscription,
  rotateSecret,
  updateSubscription,
} from "../../shared/use-cases/subscriptions.ts";
import { parseOrThrow } from "../../shared/validation.ts";

export interface ApiDeps {
  config: Config;
  workspaces: WorkspaceStore;
  events: EventStore;
  deliveries: DeliveryStore;
  queue: DeliveryQueue;
  /** Seals new signing secrets; the API never needs one back. */
  secrets: SecretSealer;
  resolveHost: (host: string) => Promise<string[]>;
}

interface Call {
  request: APIGatewayProxyEventV2;
  workspaceId: string;
  params: Record<string, string>;
  /** Present on routes that read the whole workspace partition to authenticate (ingest). */
  snapshot?: WorkspaceSnapshot | undefined;
  deps: ApiDeps;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string> | undefined;
}

const subscriptionDeps = (deps: ApiDeps) => ({
  store: deps.workspaces,
  secrets: deps.secrets,
  policy: networkPolicy(deps.config),
  maxSubscriptions: deps.config.maxSubscriptions,
  resolveHost: deps.resolveHost,
});

const resendDeps = (deps: ApiDeps) => ({
  deliveries: deps.deliveries,
  events: deps.events,
  subscriptions: deps.workspaces,
  queue: deps.queue,
});

const handlers: Record<Exclude<RouteKey, "GET /health">, (call: Call) => Promise<Reply>> = {
  "POST /v1/events": async ({ request, workspaceId, snapshot, deps }) => {
    const input = jsonBody(request, EventInput);
    const id = idempotentId(input.id, header(request, "idempotency-key"));
    const result = await ingestEvent(
      {
        workspaceId,
        subscriptions: snapshot?.subscriptions ?? [],
        event: input.event,
        data: input.data,
        timestamp: input.timestamp,
        id,
      },
      { events: deps.events, queue: deps.queue },
    );
    return {
      status: 202,
      body: { id: result.id, event: result.event, deliveries: result.deliveries },
      headers: result.replayed ? { "idempotent-replayed": "true" } : undefined,
    };
  },

  "GET /v1/event-types": async ({ request }) => {
    noBody(request);
    return { status: 200, body: { data: EVENT_TYPES } };
  },

  "POST /v1/subscriptions": async ({ request, workspaceId, deps }) => {
    const input = jsonBody(request, SubscriptionCreate);
    const { subscription, secret } = await createSubscription(
      workspaceId,
      input,
      subscriptionDeps(deps),
    );
    return {
      status: 201,
      body: subscriptionView(subscription, secret),
      headers: { location: `/v1/subscriptions/${subscription.id}` },
    };
  },

  "GET /v1/subscriptions": async ({ request, workspaceId, deps }) => {
    noBody(request);
    const subscriptions = await deps.workspaces.listSubscriptions(workspaceId);
    return { status: 200, body: { data: subscriptions.map((s) => subscriptionView(s)) } };
  },

  "GET /v1/subscriptions/{id}": async ({ request, workspaceId, params, deps }) => {
    noBody(request);
    const subscription = await getSubscription(workspaceId, params.id ?? "", deps.workspaces);
    return { status: 200, body: subscriptionView(subscription) };
  },

  "PATCH /v1/subscriptions/{id}": async ({ request, workspaceId, params, deps }) => {
    const patch = jsonBody(request, SubscriptionPatch);
    const { subscription, secret, missed } = await updateSubscription(
      workspaceId,
      params.id ?? "",
      patch,
      subscriptionDeps(deps),
    );
    return {
      status: 200,
      body: { ...subscriptionView(subscription, secret), ...(missed ? { missed } : {}) },
    };
  },

  "POST /v1/subscriptions/{id}/rotate-secret": async ({ request, workspaceId, params, deps }) => {
    const input = request.body ? jsonBody(request, RotateSecretInput) : {};
    const { subscription, secret } = await rotateSecret(
      workspaceId,
      params.id ?? "",
      input,
      subscriptionDeps(deps),
    );
    return { status: 200, body: subscriptionView(subscription, secret) };
  },

  "DELETE /v1/subscriptions/{id}": async ({ request, workspaceId, params, deps }) => {
    noBody(request);
    await deleteSubscription(workspaceId, params.id ?? "", deps.workspaces);
    return { status: 204 };
  },

  "GET /v1/deliveries": async ({ request, workspaceId, deps }) => {
    noBody(request);
    const page = await listDeliveries(
      workspaceId,
      query(request, DeliveryListQuery),
      deps.deliveries,
    );
    return {
      status: 200,
      body: { data: page.items.map(deliverySummaryView), nextCursor: page.nextCursor },
    };
  },

  "GET /v1/deliveries/{id}": async ({ request, workspaceId, params, deps }) => {
    noBody(request);
    const { delivery, event } = await getDelivery(workspaceId, params.id ?? "", deps);
    return { status: 200, body: deliveryView(delivery, event) };
  },

  "POST /v1/deliveries/{id}/resend": async ({ request, workspaceId, params, deps }) => {
    const id = params.id ?? "";
    if (request.body) noBody(request);
    const result = ID_PATTERNS.delivery.test(id)
      ? await resendDelivery(workspaceId, id, resendDeps(deps))
      : { outcome: "not-found" as const };
    switch (result.outcome) {
      case "queued":
        return { status: 202, body: { id, status: "pending", generation: result.generation } };
      case "not-found":
        throw new NotFoundError(`No delivery '${id}' in this workspace.`);
      case "expired":
        throw new ConflictError(
          "Its event is past the retention period; there is nothing to resend.",
        );
      case "subscription-disabled":
        throw new ConflictError("Its subscription is disabled; enable it, then resend.");
      case "subscription-deleted":
        throw new ConflictError("Its subscription was deleted; there is nowhere to send it.");
      default:
        throw new ConflictError(
          "A resend of this delivery is already under way; try again shortly.",
        );
    }
  },

  "POST /v1/deliveries/replay": async ({ request, workspaceId, deps }) => {
    const input = jsonBody(request, ReplayInput);
    const result = await replayWindow(
      workspaceId,
      {
        from: input.from,
        to: input.to,
        subscriptionId: input.subscriptionId,
        statuses: input.status,
        limit: input.limit ?? 100,
        after: input.cursor === undefined ? undefined : decodeReplayCursor(input.cursor),
      },
      resendDeps(deps),
    );
    return {
      status: 200,
      body: {
        queued: result.queued,
        skipped: result.skipped,
        errors: result.errors,
        nextCursor: result.next ? Buffer.from(result.next).toString("base64url") : null,
      },
    };
  },

  "GET /v1/dlq": async ({ request, workspaceId, deps }) => {
    noBody(request);
    const filter = query(request, DeadLetterQuery);
    return { status: 200, body: await deadLetterSummary(workspaceId, filter, resendDeps(deps)) };
  },

  "POST /v1/dlq/redrive": async ({ request, workspaceId, deps }) => {
    const input = request.body ? jsonBody(request, RedriveInput) : {};
    const filter = { subscriptionId: input.subscriptionId, event: input.event };
    const result = await redriveWorkspace(
      workspaceId,
      filter,
      {
        limit: input.limit ?? 100,
        after: input.cursor === undefined ? undefined : decodeReplayCursor(input.cursor),
      },
      resendDeps(deps),
    );
    const left = await deadLetterSummary(workspaceId, filter, resendDeps(deps));
    return {
      status: 200,
      body: {
        moved: result.queued,
        skipped: result.skipped,
        errors: result.errors,
        left: left.depth,
        leftExact: left.depthExact,
        nextCursor: result.next ? Buffer.from(result.next).toString("base64url") : null,
      },
    };
  },

  "POST /v1/keys": async ({ request, workspaceId, deps }) => {
    const input = jsonBody(request, KeyCreate);
    const { apiKey, plaintext } = await createKey(workspaceId, input, deps.workspaces);
    return { status: 201, body: { ...apiKeyView(apiKey), key: plaintext } };
  },

  "GET /v1/keys": async ({ request, workspaceId, deps }) => {
    noBody(request);
    const keys = await deps.workspaces.listKeys(workspaceId);
    return { status: 200, body: { data: keys.map(apiKeyView) } };
  },

  "DELETE /v1/keys/{id}": async ({ request, workspaceId, params, deps }) => {
    noBody(request);
    await revokeKey(workspaceId, params.id ?? "", deps.workspaces);
    return { status: 204 };
  },
};

function decodeReplayCursor(cursor: string): string {
  const id = Buffer.from(cursor, "base64url").toString("utf8");
  if (!ID_PATTERNS.delivery.test(id)) {
    throw new ValidationError([{ field: "cursor", detail: "Is not a cursor this API issued." }]);
  }
  return id;
}

/** The event id: body `id` and `Idempotency-Key` mean the same, so they must agree. */
function idempotentId(bodyId: string | undefined, headerId: string | undefined) {
  if (headerId === undefined) return bodyId;
  const checked = parseOrThrow(EventId, headerId, "Idempotency-Key");
  if (bodyId !== undefined && bodyId !== checked) {
    throw new ValidationError([
      {
        field: "id",
        detail: "Differs from the Idempotency-Key header; send one, or the same in both.",
      },
    ]);
  }
  return checked;
}

/**
 * Routes one API Gateway (HTTP API, payload v2) request: unmatched paths get 404/405,
 * authentication and role checks run before any input is read, and every reply is JSON.
 */
export async function handleApiRequest(
  request: APIGatewayProxyEventV2,
  deps: ApiDeps,
): Promise<APIGatewayProxyStructuredResultV2> {
  let routeKey = request.routeKey as RouteKey | "$default";
  let params = request.pathParameters ?? {};
  if (!(routeKey in ROUTES)) {
    const match = matchRoute(request.requestContext.http.method, request.rawPath);
    if (match.kind === "method-not-allowed") throw new MethodNotAllowedError(match.allowed);
    if (match.kind === "not-found") throw new NotFoundError(`No route for ${request.rawPath}.`);
    routeKey = match.routeKey;
    params = match.pathParameters;
  }
  if (routeKey === "GET /health") return reply({ status: 200, body: { status: "ok" } });

  const route = ROUTES[routeKey as Exclude<RouteKey, "GET /health">];
  const parsed = parseBearer(header(request, "authorization"));
  // Ingest authenticates from the same read that loads the subscriptions: one call, not two.
  const snapshot =
    routeKey === "POST /v1/events" ? await deps.workspaces.load(parsed.workspaceId) : undefined;
  const key = snapshot
    ? findKey(snapshot.keys, parsed)
    : await deps.workspaces.getKey(parsed.workspaceId, parsed.hash);
  authorize(key, route.auth);
  const handler = handlers[routeKey as keyof typeof handlers];
  return reply(
    await handler({
      request,
      workspaceId: parsed.workspaceId,
      params: params as Record<string, string>,
      snapshot,
      deps,
    }),
  );
}

function reply({ status, body, headers }: Reply): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: status,
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      "cache-control": "no-store",
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  };
}
