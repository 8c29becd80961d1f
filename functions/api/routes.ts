import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { type Config, networkPolicy } from "../../shared/config.ts";
import type { PortalSession } from "../../shared/domain.ts";
import {
  ConflictError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
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
import { asAppError, problemBody } from "../../shared/http/problem.ts";
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
import { addLogContext, describeError, type Logger } from "../../shared/log.ts";
import type {
  DeliveryQueue,
  DeliveryStore,
  EventStore,
  FanOutQueue,
  PortalSessionStore,
  WebhookSender,
  WorkspaceStore,
} from "../../shared/ports.ts";
import { CAPABILITIES } from "../../shared/roles.ts";
import { EventId, EventInput, MAX_EVENT_BYTES } from "../../shared/schemas.ts";
import type { SecretOpener, SecretSealer } from "../../shared/secrets/secret-box.ts";
import type { StatsStore } from "../../shared/stats.ts";
import type { KeySnapshots, SubscriptionSnapshots } from "../../shared/subscription-snapshots.ts";
import { authorize } from "../../shared/use-cases/authenticate.ts";
import { getDelivery, listDeliveries } from "../../shared/use-cases/deliveries.ts";
import {
  type BatchEvent,
  type BatchOutcome,
  ingestBatch,
} from "../../shared/use-cases/ingest-batch.ts";
import { ingestEvent } from "../../shared/use-cases/ingest-event.ts";
import { createKey, revokeKey } from "../../shared/use-cases/keys.ts";
import {
  authenticatePortalSession,
  createPortalSession,
  Scope,
} from "../../shared/use-cases/portal-sessions.ts";
import {
  deadLetterSummary,
  REDRIVE_LEFT_BUDGET,
  redriveWorkspace,
  replayWindow,
  resendDelivery,
} from "../../shared/use-cases/resend.ts";
import { subscriptionStats } from "../../shared/use-cases/subscription-stats.ts";
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
  /** Each workspace's subscription set, reused for a few seconds by ingest. */
  subscriptionSets: SubscriptionSnapshots;
  /** Valid keys as the ingest routes last read them (the others read the key every time). */
  ingestKeys: KeySnapshots;
  events: EventStore;
  deliveries: DeliveryStore;
  queue: DeliveryQueue & FanOutQueue;
  /** Portal sessions: the web console's short-lived tokens. */
  portalSessions: PortalSessionStore;
  /** Seals new signing secrets, and opens them for test sends. */
  secrets: SecretSealer & SecretOpener;
  /** Sends test deliveries (the deliver function's sender, with the API's shorter deadline). */
  sender: WebhookSender;
  resolveHost: (host: string) => Promise<string[]>;
  /** The OpenAPI document (generated once, on first use). */
  openApiDocument: () => Promise<Record<string, unknown>>;
  /** Subscriptions' delivery statistics (written by the deliver function). */
  stats: StatsStore;
  /** For what a client is not told: a batch item's internal failure. */
  log: Logger;
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
  /** The caller's portal session, when it is one (else an admin or ingest key). */
  session?: PortalSession | undefined;
  /** The subscriptions the caller may see: all of them, or a session's. */
  scope: Scope;
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

  "POST /v1/events": async ({ request, workspaceId, body, deps }) => {
    parseOrThrow(eventSpec(body.event).data, body.data, "data");
    const id = idempotentId(body.id, header(request, "idempotency-key"));
    const result = await ingestEvent(
      {
        workspaceId,
        subscriptions: await deps.subscriptionSets.get(workspaceId),
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

  "POST /v1/events/batch": async ({ request, workspaceId, body, deps }) => {
    if (header(request, "idempotency-key") !== undefined) {
      throw new ValidationError([
        {
          field: "Idempotency-Key",
          detail: "A batch has no single key: give each event its own `id`.",
        },
      ]);
    }
    // Each event is checked on its own: a bad one gets its problem, the rest go on.
    const valid: BatchEvent[] = [];
    const refused: BatchOutcome[] = [];
    body.events.forEach((raw, index) => {
      const field = `events.${index}`;
      const rawId = (raw as { id?: unknown } | null)?.id;
      const id = typeof rawId === "string" ? rawId : null;
      try {
        const bytes = Buffer.byteLength(JSON.stringify(raw));
        if (bytes > MAX_EVENT_BYTES) {
          throw new PayloadTooLargeError(
            `${field} is ${bytes} bytes; the most an event may weigh is ${MAX_EVENT_BYTES} (256 KiB).`,
          );
        }
        const event = parseOrThrow(EventInput, raw, field);
        parseOrThrow(eventSpec(event.event).data, event.data, `${field}.data`);
        valid.push({ index, ...event });
      } catch (error) {
        refused.push({ index, kind: "refused", id, error: asAppError(error) });
      }
    });
    const logged = (outcomes: BatchOutcome[]) => {
      for (const o of outcomes) {
        if (o.kind === "refused" && o.error.status >= 500) {
          deps.log.error("batch item failed", {
            index: o.index,
            eventId: o.id,
            ...describeError(o.cause ?? o.error),
          });
        }
      }
      return outcomes;
    };
    const accepted =
      valid.length > 0
        ? await ingestBatch(workspaceId, await deps.subscriptionSets.get(workspaceId), valid, {
            events: deps.events,
            queue: deps.queue,
          })
        : [];
    const results = [...logged(accepted), ...refused]
      .sort((a, b) => a.index - b.index)
      .map((outcome) =>
        outcome.kind === "accepted"
          ? {
              index: outcome.index,
              status: 202 as const,
              id: outcome.id,
              event: outcome.event,
              deliveries: outcome.deliveries,
              replayed: outcome.replayed,
            }
          : {
              index: outcome.index,
              status: outcome.error.status,
              id: outcome.id,
              problem: problemBody(outcome.error),
            },
      );
    const ok = results.filter((r) => r.status === 202).length;
    return { status: 200, body: { accepted: ok, failed: results.length - ok, results } };
  },

  "GET /v1/event-types": async ({ query, deps }) => ({
    status: 200,
    body: {
      data: await Promise.all(
        // The CRM events unless the operational ones are asked for.
        catalogEntries(query.category ?? "crm").map(async (entry) => ({
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

  "POST /v1/subscriptions": async ({ workspaceId, body, scope, deps }) => {
    scope.refuseWhenLimited("create subscriptions");
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

  "GET /v1/subscriptions": async ({ workspaceId, scope, deps }) => {
    const subscriptions = await deps.workspaces.listSubscriptions(workspaceId);
    return {
      status: 200,
      body: {
        data: subscriptions.filter((s) => scope.includes(s.id)).map((s) => subscriptionView(s)),
      },
    };
  },

  "GET /v1/subscriptions/{id}": async ({ workspaceId, params, scope, deps }) => {
    scope.visible(params.id);
    const subscription = await getSubscription(workspaceId, params.id, deps.workspaces);
    return { status: 200, body: subscriptionView(subscription) };
  },

  "PATCH /v1/subscriptions/{id}": async ({ workspaceId, params, body, scope, deps }) => {
    scope.visible(params.id);
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

  "POST /v1/subscriptions/{id}/rotate-secret": async ({
    workspaceId,
    params,
    body,
    scope,
    deps,
  }) => {
    scope.visible(params.id);
    const { subscription, secret } = await rotateSecret(
      workspaceId,
      params.id,
      body,
      subscriptionDeps(deps),
    );
    return { status: 200, body: subscriptionView(subscription, secret) };
  },

  "POST /v1/subscriptions/{id}/test": async ({ workspaceId, params, body, scope, deps }) => {
    scope.visible(params.id);
    return {
      status: 200,
      body: await testSend(workspaceId, params.id, body, {
        subscriptions: deps.workspaces,
        events: deps.events,
        deliveries: deps.deliveries,
        sender: deps.sender,
        secrets: deps.secrets,
        responseBodyLimit: deps.config.responseBodyLimit,
      }),
    };
  },

  "DELETE /v1/subscriptions/{id}": async ({ workspaceId, params, scope, deps }) => {
    scope.visible(params.id);
    await deleteSubscription(workspaceId, params.id, deps.workspaces);
    return { status: 204 };
  },

  "GET /v1/subscriptions/{id}/stats": async ({ workspaceId, params, query, scope, deps }) => {
    scope.visible(params.id);
    return {
      status: 200,
      body: await subscriptionStats(workspaceId, params.id, query.window ?? "24h", {
        subscriptions: deps.workspaces,
        stats: deps.stats,
      }),
    };
  },

  "GET /v1/deliveries": async ({ workspaceId, query, scope, deps }) => {
    const page = await listDeliveries(
      workspaceId,
      { ...query, subscriptionId: scope.filter(query.subscriptionId) },
      deps.deliveries,
    );
    return {
      status: 200,
      body: { data: page.items.map(deliverySummaryView), nextCursor: page.nextCursor },
    };
  },

  "GET /v1/deliveries/{id}": async ({ workspaceId, params, scope, deps }) => {
    const { delivery, event } = await getDelivery(workspaceId, params.id, deps);
    if (!scope.includes(delivery.subscriptionId)) {
      throw new NotFoundError(`No delivery '${params.id}' in this workspace.`);
    }
    return { status: 200, body: deliveryView(delivery, event) };
  },

  "POST /v1/deliveries/{id}/resend": async ({ workspaceId, params, scope, deps }) => {
    const { id } = params;
    if (scope.limited) {
      // A scoped session resends only its subscriptions' deliveries: look before claiming.
      const stored = ID_PATTERNS.delivery.test(id)
        ? await deps.deliveries.get(workspaceId, id)
        : undefined;
      if (!stored || !scope.includes(stored.subscriptionId)) {
        throw new NotFoundError(`No delivery '${id}' in this workspace.`);
      }
    }
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

  "POST /v1/deliveries/replay": async ({ workspaceId, body, scope, deps }) => {
    const result = await replayWindow(
      workspaceId,
      {
        from: body.from,
        to: body.to,
        subscriptionId: scope.filter(body.subscriptionId),
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

  "GET /v1/dlq": async ({ workspaceId, query, scope, deps }) => ({
    status: 200,
    body: await deadLetterSummary(
      workspaceId,
      { ...query, subscriptionId: scope.filter(query.subscriptionId) },
      resendDeps(deps),
    ),
  }),

  "POST /v1/dlq/redrive": async ({ workspaceId, body, scope, deps }) => {
    const filter = { subscriptionId: scope.filter(body.subscriptionId), event: body.event };
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

  "POST /v1/portal-sessions": async ({ workspaceId, body, deps }) => {
    const { session, token } = await createPortalSession(workspaceId, body, {
      sessions: deps.portalSessions,
      workspaces: deps.workspaces,
    });
    return {
      status: 201,
      body: {
        id: session.id,
        token,
        workspaceId,
        capabilities: session.capabilities,
        subscriptionIds: session.subscriptionIds,
        expiresAt: session.expiresAt,
        consolePath: `/console#session=${token}`,
      },
    };
  },

  "DELETE /v1/portal-sessions/{id}": async ({ workspaceId, params, deps }) => {
    const ended =
      ID_PATTERNS.portalSession.test(params.id) &&
      (await deps.portalSessions.revoke(workspaceId, params.id));
    if (!ended) throw new NotFoundError(`No portal session '${params.id}' in this workspace.`);
    return { status: 204 };
  },

  "GET /v1/whoami": async ({ workspaceId, session }) => ({
    status: 200,
    body: session
      ? {
          workspaceId,
          kind: "portal-session",
          capabilities: session.capabilities,
          subscriptionIds: session.subscriptionIds,
          expiresAt: session.expiresAt,
        }
      : {
          workspaceId,
          kind: "key",
          capabilities: [...CAPABILITIES],
          subscriptionIds: null,
          expiresAt: null,
        },
  }),

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

  // Portal sessions (`whp_…`, the web console) are checked on their own, against the route's
  // capability; any other bearer is a key, checked with one read of its hash before anything
  // else of the workspace is read.
  const session =
    spec.auth === "public"
      ? undefined
      : await authenticatePortalSession(
          header(request, "authorization"),
          spec.capability,
          deps.portalSessions,
        );
  let workspaceId: string | undefined = session?.workspaceId;
  if (spec.auth !== "public" && !session) {
    const parsed = parseBearer(header(request, "authorization"));
    authorize(
      spec.auth.includes("ingest")
        ? await deps.ingestKeys.key(parsed.workspaceId, parsed.hash)
        : await deps.workspaces.getKey(parsed.workspaceId, parsed.hash),
      spec.auth,
    );
    workspaceId = parsed.workspaceId;
  }
  if (workspaceId) addLogContext({ workspaceId });

  let body: unknown;
  const bodySpec: RouteSpec["body"] = spec.body;
  if (bodySpec) {
    const schema = bodySpec.parse ?? bodySpec.schema;
    body =
      bodySpec.required || request.body
        ? jsonBody(request, schema, bodySpec.maxBytes)
        : parseOrThrow(schema, {});
  } else if (spec.auth !== "public") {
    noBody(request);
  }
  const parsedQuery = spec.query ? query(request, spec.query) : undefined;

  const handler = handlers[key] as (call: Call<RouteKey>) => Promise<Reply<RouteKey>>;
  try {
    return reply(
      await handler({
        request,
        workspaceId: workspaceId as string,
        params: params as PathParams<RouteKey>,
        query: parsedQuery as ParsedQuery<RouteKey>,
        body: body as ParsedBody<RouteKey>,
        session,
        scope: Scope.of(session),
        deps,
      }),
    );
  } finally {
    // This instance's ingest sees its own subscription changes at once (even a failed write
    // may have applied).
    if (workspaceId && changesSubscriptions(key)) deps.subscriptionSets.invalidate(workspaceId);
    // A key revoked here is refused here at once.
    if (key === "DELETE /v1/keys/{id}") deps.ingestKeys.clear();
  }
}

/** Every route that may write a subscription: any but a read under /v1/subscriptions. */
export const changesSubscriptions = (key: RouteKey): boolean =>
  !key.startsWith("GET ") && key.includes(" /v1/subscriptions");

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
