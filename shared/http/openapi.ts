import type * as z from "zod/mini";
import { EVENT_CATALOG, RECORD_SCHEMAS } from "../events.ts";
import {
  DeliveryStatusSchema,
  EventInput,
  EventNameSchema,
  KeyCreate,
  RedriveInput,
  ReplayInput,
  RotateSecretInput,
  SubscriptionCreate,
  SubscriptionPatch,
  TestSendInput,
} from "../schemas.ts";
import { VERSION } from "../version.ts";
import {
  PROBLEM_TITLES,
  problemStatuses,
  ROUTE_KEYS,
  ROUTE_TABLE,
  type RouteSpec,
  type Tag,
} from "./contract.ts";
import { type JsonSchema, SchemaSet } from "./json-schema.ts";
import * as R from "./resources.ts";

/**
 * The OpenAPI 3.1 document, generated from the route table (shared/http/contract.ts) and the
 * event catalog (shared/events.ts) with zod's JSON Schema output. `GET /v1/openapi.json` serves
 * it and `npm run openapi` writes it to docs/openapi.json; a test fails when that copy is stale.
 */
export type OpenApiDocument = Record<string, unknown>;

const capitalized = (word: string) => `${word[0]?.toUpperCase()}${word.slice(1)}`;

/** Component names of the schemas that are worth a name. */
function namedSchemas(): SchemaSet {
  const set = new SchemaSet();
  const names: Array<[z.ZodMiniType, string]> = [
    [EventNameSchema, "EventName"],
    [DeliveryStatusSchema, "DeliveryStatus"],
    [EventInput, "EventInput"],
    [SubscriptionCreate, "SubscriptionCreate"],
    [SubscriptionPatch, "SubscriptionPatch"],
    [RotateSecretInput, "RotateSecretInput"],
    [TestSendInput, "TestSendInput"],
    [ReplayInput, "ReplayInput"],
    [RedriveInput, "RedriveInput"],
    [KeyCreate, "KeyCreate"],
  ];
  for (const [name, schema] of Object.entries(R)) {
    if (typeof schema === "object" && schema !== null && "_zod" in schema) {
      names.push([schema as z.ZodMiniType, name.replace(/Value$/, "")]);
    }
  }
  for (const [entity, schema] of Object.entries(RECORD_SCHEMAS)) {
    names.push([schema, `${capitalized(entity)}Record`]);
  }
  for (const entry of EVENT_CATALOG) {
    names.push([entry.envelope, eventComponentName(entry.name)]);
  }
  for (const [schema, name] of names) set.name(schema, name);
  return set;
}

const eventComponentName = (event: string) => `${event.split(".").map(capitalized).join("")}Event`;

const PROBLEM_RESPONSES: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  413: "PayloadTooLarge",
  415: "UnsupportedMediaType",
  422: "ValidationFailed",
  500: "InternalError",
  503: "ServiceUnavailable",
};

const PROBLEM_HEADERS: Record<number, Record<string, unknown>> = {
  401: {
    "WWW-Authenticate": {
      description: '`Bearer realm="webhooks"`',
      schema: { type: "string" },
    },
  },
  405: { Allow: { description: "The methods the path takes.", schema: { type: "string" } } },
  503: {
    "Retry-After": { description: "Seconds to wait before retrying.", schema: { type: "string" } },
  },
};

const problemExample = {
  type: "/problems/validation-error",
  title: "The request is not valid",
  status: 422,
  detail:
    'event: Unknown event "contact.merged"; GET /v1/event-types lists the fifteen valid names.',
  instance: "/v1/events",
  errors: [
    {
      field: "event",
      detail: 'Unknown event "contact.merged"; GET /v1/event-types lists the fifteen valid names.',
    },
  ],
};

function problemResponse(status: number, description: string) {
  return {
    description,
    ...(PROBLEM_HEADERS[status] ? { headers: PROBLEM_HEADERS[status] } : {}),
    content: {
      "application/problem+json": {
        schema: { $ref: "#/components/schemas/Problem" },
        ...(status === 422 ? { example: problemExample } : {}),
      },
    },
  };
}

/** The headers every delivery carries (README "Deliveries and how to verify them"). */
const DELIVERY_HEADERS: Record<string, { name: string; description: string; required: boolean }> = {
  XWebhookEvent: {
    name: "X-Webhook-Event",
    description: "The event name, e.g. `contact.created`.",
    required: true,
  },
  XWebhookDelivery: {
    name: "X-Webhook-Delivery",
    description: "The delivery id, the same on every retry and resend: dedupe on it.",
    required: true,
  },
  XWebhookSignature: {
    name: "X-Webhook-Signature",
    description:
      "Lowercase hex HMAC-SHA256 of the raw body, keyed with the secret's UTF-8 bytes (`whsec_` included); only with a secret. It signs the body alone, so a captured request replays: dedupe on `X-Webhook-Delivery`, or prefer the Standard Webhooks headers.",
    required: false,
  },
  WebhookId: {
    name: "webhook-id",
    description: "Standard Webhooks: the delivery id (as `X-Webhook-Delivery`).",
    required: true,
  },
  WebhookTimestamp: {
    name: "webhook-timestamp",
    description: "Standard Webhooks: Unix seconds of this attempt.",
    required: true,
  },
  WebhookSignature: {
    name: "webhook-signature",
    description:
      'Standard Webhooks: `v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`, one per live secret (newest first, space-separated, during a rotation); only with a secret.',
    required: false,
  },
  UserAgent: {
    name: "User-Agent",
    description: "`Customermates-Webhooks/<version>`.",
    required: true,
  },
};

const TAGS: Array<{ name: Tag | "webhooks"; description: string }> = [
  { name: "events", description: "The CRM posts events; the catalog says what each one carries." },
  { name: "subscriptions", description: "The endpoints events are delivered to." },
  { name: "deliveries", description: "Every event for every subscription, with each attempt." },
  { name: "dead letters", description: "Deliveries that failed for good, and resending them." },
  { name: "keys", description: "The workspace's API keys." },
  {
    name: "portal sessions",
    description: "Short-lived tokens for the web console, embedded in another application.",
  },
  { name: "meta", description: "Health, this document, and where deliveries come from." },
];

const DESCRIPTION = `Signed, retried, inspectable webhook delivery for the Customermates CRM.

**Keys.** Every route but \`/health\` and \`/v1/openapi.json\` needs \`Authorization: Bearer <key>\`. A key (\`whk_<workspace>_<secret>\`) belongs to one workspace and has a role: \`ingest\` may only post events (and read the egress IPs), \`admin\` may do everything in its workspace (each operation lists its roles in \`x-roles\`). Another workspace's ids answer 404.

**Portal sessions.** \`POST /v1/portal-sessions\` gives a browser (the web console, embedded in the CRM) a short-lived token (\`whp_<workspace>_<secret>\`), sent like a key, instead of a key. It may call the routes whose \`x-capability\` it holds (\`read\`, \`manage\`, \`resend\`); routes with none are for keys only. A session limited to some subscriptions sees only those and their deliveries.

**Errors** are RFC 9457 \`application/problem+json\` documents (\`Problem\`); a 422 names each wrong field in \`errors\`. Bad input never gets a 500 and never leaves a partial write.

**Deliveries.** Each event goes to every subscription of it as a signed POST (the \`webhooks\` section: one entry per event, with the body's schema and the headers). A \`2xx\` is success; anything else is retried on the schedule, then the delivery fails into the dead-letter queue. Receivers dedupe on \`webhook-id\`.

**Test sends.** \`POST /v1/subscriptions/{id}/test\` sends an event's example to an endpoint now and answers what happened.`;

export function buildOpenApiDocument(): OpenApiDocument {
  const schemas = namedSchemas();
  const paths: Record<string, Record<string, unknown>> = {};
  for (const routeKey of ROUTE_KEYS) {
    const [method, path] = routeKey.split(" ") as [string, string];
    const spec: RouteSpec = ROUTE_TABLE[routeKey];
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[method.toLowerCase()] = operation(spec, schemas);
  }
  const webhooks = Object.fromEntries(
    EVENT_CATALOG.map((entry) => [
      entry.name,
      {
        post: {
          operationId: `receive${eventComponentName(entry.name)}`,
          summary: entry.name,
          description: `${entry.description} Sent to every subscription of \`${entry.name}\`, signed with its secret; the body is exactly \`{event, data, timestamp}\`, byte for byte what the signatures cover. Verify before parsing.`,
          tags: ["webhooks"],
          parameters: Object.keys(DELIVERY_HEADERS).map((name) => ({
            $ref: `#/components/parameters/${name}`,
          })),
          requestBody: {
            required: true,
            content: {
              "application/json": {
                schema: schemas.convert(entry.envelope, "output"),
                example: entry.example,
              },
            },
          },
          responses: {
            "2XX": { description: "Received: any 2xx counts as delivered." },
            default: {
              description:
                "Anything else (or a timeout: 5 s to connect, 15 s in all) is a failed attempt, retried on the schedule; redirects are not followed.",
            },
          },
        },
      },
    ]),
  );
  schemas.convert(R.Problem, "output"); // referenced by every refusal
  const responses = Object.fromEntries(
    Object.entries(PROBLEM_RESPONSES).map(([status, name]) => [
      name,
      problemResponse(Number(status), PROBLEM_TITLES[Number(status)] ?? ""),
    ]),
  );
  return {
    openapi: "3.1.0",
    info: {
      title: "Customermates Webhooks",
      version: VERSION,
      summary: "Webhook delivery for the Customermates CRM",
      description: DESCRIPTION,
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    servers: [
      { url: "http://127.0.0.1:3000", description: "The local stack (`npm start`)" },
      {
        url: "https://{apiId}.execute-api.{region}.amazonaws.com",
        description: "A deployment (the stack output `ApiUrl`)",
        variables: {
          apiId: { default: "abc123", description: "The HTTP API's id." },
          region: { default: "us-east-1" },
        },
      },
    ],
    security: [{ bearer: [] }],
    tags: [...TAGS, { name: "webhooks", description: "What receivers get: one entry per event." }],
    paths,
    webhooks,
    components: {
      schemas: sortedKeys(schemas.components),
      responses,
      parameters: Object.fromEntries(
        Object.entries(DELIVERY_HEADERS).map(([id, header]) => [
          id,
          {
            name: header.name,
            in: "header",
            required: header.required,
            description: header.description,
            schema: { type: "string" },
          },
        ]),
      ),
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description:
            "An API key, `whk_<workspace>_<secret>`: `npm start` prints the local stack's; `webhooks keys create` makes more. Or a portal session token, `whp_<workspace>_<secret>` (`POST /v1/portal-sessions`).",
        },
      },
    },
  };
}

function operation(spec: RouteSpec, schemas: SchemaSet) {
  const parameters: unknown[] = [];
  for (const [name, description] of Object.entries(spec.params ?? {})) {
    parameters.push({ name, in: "path", required: true, description, schema: { type: "string" } });
  }
  if (spec.query) {
    const shape = (
      spec.query as unknown as { _zod: { def: { shape: Record<string, z.ZodMiniType> } } }
    )._zod.def.shape;
    for (const [name, schema] of Object.entries(shape)) {
      parameters.push({
        name,
        in: "query",
        required: false,
        schema: queryParameter(schema, schemas),
      });
    }
  }
  for (const [name, header] of Object.entries(spec.headers ?? {})) {
    parameters.push({
      name,
      in: "header",
      required: false,
      description: header.description,
      schema: schemas.convert(header.schema, "input"),
    });
  }
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    responses[status] = {
      description: response.description,
      ...(response.headers
        ? {
            headers: Object.fromEntries(
              Object.entries(response.headers).map(([name, header]) => [
                name,
                {
                  description: header.description,
                  schema: schemas.convert(header.schema, "output"),
                },
              ]),
            ),
          }
        : {}),
      ...(response.schema
        ? {
            content: {
              "application/json": {
                schema: schemas.convert(response.schema, "output"),
                ...(response.example === undefined ? {} : { example: response.example }),
              },
            },
          }
        : {}),
    };
  }
  for (const [status, when] of Object.entries(problemStatuses(spec))) {
    const name = PROBLEM_RESPONSES[Number(status)];
    responses[status] =
      name && when === PROBLEM_TITLES[Number(status)]
        ? { $ref: `#/components/responses/${name}` }
        : problemResponse(Number(status), when);
  }
  const roles = spec.auth === "public" ? [] : [...spec.auth];
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    description:
      spec.auth === "public"
        ? `${spec.description}`
        : `${spec.description}\n\nRoles: ${roles.map((r) => `\`${r}\``).join(", ")}. ${
            spec.capability
              ? `Portal sessions: with \`${spec.capability}\`.`
              : "Not open to portal sessions."
          }`,
    tags: [spec.tag],
    ...(spec.auth === "public" ? { security: [] } : {}),
    "x-roles": roles,
    ...(spec.auth === "public" ? {} : { "x-capability": spec.capability ?? null }),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(spec.body
      ? {
          requestBody: {
            required: spec.body.required,
            content: {
              "application/json": {
                schema: schemas.convert(spec.body.schema, "input"),
                example: spec.body.example,
              },
            },
          },
        }
      : {}),
    responses,
  };
}

/**
 * A query parameter's schema: as the API reads it (`limit` is an integer from 1 to 100) where
 * JSON Schema can say so, else as sent (`test` is the text `true` or `false`).
 */
function queryParameter(schema: z.ZodMiniType, schemas: SchemaSet): JsonSchema {
  try {
    return schemas.convert(schema, "output");
  } catch {
    return schemas.convert(schema, "input");
  }
}

function sortedKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

let cached: OpenApiDocument | undefined;
/** The document, built once per process. */
export function openApiDocument(): OpenApiDocument {
  cached ??= buildOpenApiDocument();
  return cached;
}
