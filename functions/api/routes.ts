import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { type Config, networkPolicy } from "../../shared/config.ts";
import {
  ConflictError,
  MethodNotAllowedError,
  NotFoundError,
  ValidationError,
} from "../../shared/errors.ts";
import { catalogEntries, eventSpec } from "../../shared/events.ts";
import {
  type ParsedBody,
  type ParsedQuery,
  type PathParams,
  type PublicRouteKey,
  ROUTE_TABLE,
  type RouteKey,
  type RouteSpec,
  type SuccessBody,
  type SuccessStatus,
} from "../../shared/http/contract.ts";
import { header, jsonBody, noBody, query } from "../../shared/http/request.ts";
import { matchRoute } from "../../shared/http/routes.ts";
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
  WebhookSender,
  WorkspaceSnapshot,
  WorkspaceStore,
} from "../../shared/ports.ts";
import { EventId } from "../../shared/schemas.ts";
import type { SecretOpener, SecretSealer } from "../../shared/secrets/secret-box.ts";
import { authorize, findKey } from "../../shared/use-cases/authenticate.ts";
import { getDelivery, listDeliveries } from "../../shared/use-cases/deliveries.ts";
import { ingestEvent } from "../../shared/use-cases/ingest-event.ts";
import { createKey, revokeKey } from "../../shared/use-cases/keys.ts";
import {
  deadLetterSummary,
  REDRIVE_LEFT_BUDGET,
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
import { testSend } from "../../shared/use-cases/test-send.ts";
import { parseOrThrow } from "../../shared/validation.ts";

export interface ApiDeps {
  config: Config;
  workspaces: WorkspaceStore;
  events: EventStore;
  deliveries: DeliveryStore;
  queue: DeliveryQueue;
  /** Seals new signing secrets, and opens them for test sends. */
  secrets: SecretSealer & SecretOpener;
  /** Sends test deliveries (the deliver function's sender, with the API's shorter deadline). */
  sender: WebhookSender;
  resolveHost: (host: string) => Promise<string[]>;
  /** The OpenAPI document (generated once, on first use). */
  openApiDocument: () => Promise<Record<string, unknown>>;
  /** JSON Schema of an event's body, for the catalog route. */
  eventJsonSchema: (event: string) => Promise<Record<string, unknown>>;
}

/** What a handler gets: the caller's workspace, and its input already validated by the table. */
interface Call<K extends RouteKey> {
  request: APIGatewayProxyEventV2;
  workspaceId: K extends PublicRouteKey ? undefined : string;
  params: PathParams<K>;
  query: ParsedQuery<K>;
  body: ParsedBody<K>;
  /** Present on routes that read the whole workspace partition to authenticate (ingest). */
  snapshot?: WorkspaceSnapshot | undefined;
  deps: ApiDeps;
}

/** A success answer, as the route table documents it (the compiler holds handlers to it). */
type Reply<K extends RouteKey> = {
  [S in SuccessStatus<K>]: {
    status: S;
    headers?: Record<string, string> | undefined;
  } & (SuccessBody<K> extends undefined ? { body?: undefined } : { body: SuccessBody<K> });
}[SuccessStatus<K>];

type Handlers = { [K in RouteKey]: (call: Call<K>) => Promise<Reply<K>> };

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

const cursorOut = (next: string | null) => (next ? Buffer.from(next).toString("base64url") : null);

/** One handler per route of shared/http/contract.ts: thin, over one use case each. */
const handlers: Handlers = {
  "GET /health": async () => ({ status: 200, body: { status: "ok" } }),

  "GET /v1/openapi.json": async ({ deps }) => ({
    status: 200,
    body: (await deps.openApiDocument()) as SuccessBody<"GET /v1/openapi.json">,
  }),

  "GET /v1/meta/egress-ips": async ({ deps }) => ({
    status: 200,
    body: { egressIps: [...deps.config.egressIps], static: deps.config.egressIps.length > 0 },
  }),

  "POST /v1/events": async ({ request, workspaceId, snapshot, body, deps }) => {
    parseOrThrow(eventSpec(body.event).data, body.data, "data");
    const id = idempotentId(body.id, header(request, "idempotency-key"));
    const result = await ingestEvent(
      {
        workspaceId,
        subscriptions: snapshot?.subscriptions ?? [],
        event: body.event,
        data: body.data,
        timestamp: body.timestamp,
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

  "GET /v1/event-types": async ({ query, deps }) => ({
    status: 200,
    body: {
      data: await Promise.all(
        catalogEntries(query.category).map(async (entry) => ({
          name: entry.name,
          entity: entry.entity,
          action: entry.action,
          category: entry.category,
          description: entry.description,
          schema: await deps.eventJsonSchema(entry.name),
          example: entry.example as SuccessBody<"GET /v1/event-types">["data"][number]["example"],
        })),
      ),
    },
  }),

  "POST /v1/subscriptions": async ({ workspaceId, body, deps }) => {
    const { subscription, secret } = await createSubscription(
      workspaceId,
      body,
      subscriptionDeps(deps),
    );
    return {
      status: 201,
      body: subscriptionView(subscription, secret),
      headers: { location: `/v1/subscriptions/${subscription.id}` },
    };
  },

  "GET /v1/subscriptions": async ({ workspaceId, deps }) => {
    const subscriptions = await deps.workspaces.listSubscriptions(workspaceId);
    return { status: 200, body: { data: subscriptions.map((s) => subscriptionView(s)) } };
  },

  "GET /v1/subscriptions/{id}": async ({ workspaceId, params, deps }) => {
    const subscription = await getSubscription(workspaceId, params.id, deps.workspaces);
    return { status: 200, body: subscriptionView(subscription) };
  },

  "PATCH /v1/subscriptions/{id}": async ({ workspaceId, params, body, deps }) => {
    const { subscription, secret, missed } = await updateSubscription(
      workspaceId,
      params.id,
      body,
      subscriptionDeps(deps),
    );
    return {
      status: 200,
      body: { ...subscriptionView(subscription, secret), ...(missed ? { missed } : {}) },
    };
  },

  "POST /v1/subscriptions/{id}/rotate-secret": async ({ workspaceId, params, body, deps }) => {
    const { subscription, secret } = await rotateSecret(
      workspaceId,
      params.id,
      body,
      subscriptionDeps(deps),
    );
    return { status: 200, body: subscriptionView(subscription, secret) };
  },

  "POST /v1/subscriptions/{id}/test": async ({ workspaceId, params, body, deps }) => ({
    status: 200,
    body: await testSend(workspaceId, params.id, body, {
      subscriptions: deps.workspaces,
      events: deps.events,
      deliveries: deps.deliveries,
      sender: deps.sender,
      secrets: deps.secrets,
      responseBodyLimit: deps.config.responseBodyLimit,
    }),
  }),

  "DELETE /v1/subscriptions/{id}": async ({ workspaceId, params, deps }) => {
    await deleteSubscription(workspaceId, params.id, deps.workspaces);
    return { status: 204 };
  },

  "GET /v1/deliveries": async ({ workspaceId, query, deps }) => {
    const page = await listDeliveries(workspaceId, query, deps.deliveries);
    return {
      status: 200,
      body: { data: page.items.map(deliverySummaryView), nextCursor: page.nextCursor },
    };
  },

  "GET /v1/deliveries/{id}": async ({ workspaceId, params, deps }) => {
    const { delivery, event } = await getDelivery(workspaceId, params.id, deps);
    return { status: 200, body: deliveryView(delivery, event) };
  },

  "POST /v1/deliveries/{id}/resend": async ({ workspaceId, params, deps }) => {
    const { id } = params;
    const result = ID_PATTERNS.delivery.test(id)
      ? await resendDelivery(workspaceId, id, resendDeps(deps))
      : { outcome: "not-found" as const, generation: undefined };
    switch (result.outcome) {
      case "queued":
        return {
          status: 202,
          body: { id, status: "pending", generation: result.generation ?? 0 },
        };
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
      case "test":
        throw new ConflictError(
          "A test send is never resent; send a new one (POST /v1/subscriptions/{id}/test).",
        );
      default:
        throw new ConflictError(
          "A resend of this delivery is already under way; try again shortly.",
        );
    }
  },

  "POST /v1/deliveries/replay": async ({ workspaceId, body, deps }) => {
    const result = await replayWindow(
      workspaceId,
      {
        from: body.from,
        to: body.to,
        subscriptionId: body.subscriptionId,
        statuses: body.status,
        limit: body.limit ?? 100,
        after: body.cursor === undefined ? undefined : decodeCursor(body.cursor),
      },
      resendDeps(deps),
    );
    return {
      status: 200,
      body: {
        queued: result.queued,
        skipped: result.skipped,
        errors: result.errors,
        nextCursor: cursorOut(result.next),
      },
    };
  },

  "GET /v1/dlq": async ({ workspaceId, query, deps }) => ({
    status: 200,
    body: await deadLetterSummary(workspaceId, query, resendDeps(deps)),
  }),

  "POST /v1/dlq/redrive": async ({ workspaceId, body, deps }) => {
    const filter = { subscriptionId: body.subscriptionId, event: body.event };
    const result = await redriveWorkspace(
      workspaceId,
      filter,
      {
        limit: body.limit ?? 100,
        after: body.cursor === undefined ? undefined : decodeCursor(body.cursor),
      },
      resendDeps(deps),
    );
    const left = await deadLetterSummary(
      workspaceId,
      filter,
      resendDeps(deps),
      REDRIVE_LEFT_BUDGET,
    );
    return {
      status: 200,
      body: {
        moved: result.queued,
        skipped: result.skipped,
        errors: result.errors,
        left: left.depth,
        leftExact: left.depthExact,
        nextCursor: cursorOut(result.next),
      },
    };
  },

  "POST /v1/keys": async ({ workspaceId, body, deps }) => {
    const { apiKey, plaintext } = await createKey(workspaceId, body, deps.workspaces);
    return { status: 201, body: { ...apiKeyView(apiKey), key: plaintext } };
  },

  "GET /v1/keys": async ({ workspaceId, deps }) => {
    const keys = await deps.workspaces.listKeys(workspaceId);
    return { status: 200, body: { data: keys.map(apiKeyView) } };
  },

  "DELETE /v1/keys/{id}": async ({ workspaceId, params, deps }) => {
    await revokeKey(workspaceId, params.id, deps.workspaces);
    return { status: 204 };
  },
};

function decodeCursor(cursor: string): string {
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

/** Ingest authenticates from the same read that loads the subscriptions: one call, not two. */
const AUTHENTICATES_FROM_SNAPSHOT: ReadonlySet<RouteKey> = new Set(["POST /v1/events"]);

/**
 * Routes one API Gateway (HTTP API, payload v2) request by the route table: unmatched paths
 * get 404/405, authentication and role checks run before any input is read, then the body and
 * query are validated by the route's schemas, and every reply is JSON.
 */
export async function handleApiRequest(
  request: APIGatewayProxyEventV2,
  deps: ApiDeps,
): Promise<APIGatewayProxyStructuredResultV2> {
  let routeKey = request.routeKey as RouteKey | "$default";
  let params = request.pathParameters ?? {};
  if (!(routeKey in ROUTE_TABLE)) {
    const match = matchRoute(request.requestContext.http.method, request.rawPath);
    if (match.kind === "method-not-allowed") throw new MethodNotAllowedError(match.allowed);
    if (match.kind === "not-found") throw new NotFoundError(`No route for ${request.rawPath}.`);
    routeKey = match.routeKey;
    params = match.pathParameters;
  }
  const key = routeKey as RouteKey;
  const spec: RouteSpec = ROUTE_TABLE[key];

  let workspaceId: string | undefined;
  let snapshot: WorkspaceSnapshot | undefined;
  if (spec.auth !== "public") {
    const parsed = parseBearer(header(request, "authorization"));
    if (AUTHENTICATES_FROM_SNAPSHOT.has(key))
      snapshot = await deps.workspaces.load(parsed.workspaceId);
    const apiKey = snapshot
      ? findKey(snapshot.keys, parsed)
      : await deps.workspaces.getKey(parsed.workspaceId, parsed.hash);
    authorize(apiKey, spec.auth);
    workspaceId = parsed.workspaceId;
  }

  let body: unknown;
  if (spec.body) {
    body =
      spec.body.required || request.body
        ? jsonBody(request, spec.body.schema)
        : parseOrThrow(spec.body.schema, {});
  } else if (spec.auth !== "public") {
    noBody(request);
  }
  const parsedQuery = spec.query ? query(request, spec.query) : undefined;

  const handler = handlers[key] as (call: Call<RouteKey>) => Promise<Reply<RouteKey>>;
  return reply(
    await handler({
      request,
      workspaceId: workspaceId as string,
      params: params as PathParams<RouteKey>,
      query: parsedQuery as ParsedQuery<RouteKey>,
      body: body as ParsedBody<RouteKey>,
      snapshot,
      deps,
    }),
  );
}

function reply({
  status,
  body,
  headers,
}: {
  status: number;
  body?: unknown;
  headers?: Record<string, string> | undefined;
}): APIGatewayProxyStructuredResultV2 {
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
