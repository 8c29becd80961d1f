import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { OPENAPI_PATH, openApiText } from "../../bin/openapi.ts";
import { EVENT_CATALOG } from "../../shared/events.ts";
import { problemStatuses, ROUTE_KEYS, ROUTE_TABLE } from "../../shared/http/contract.ts";
import { buildOpenApiDocument } from "../../shared/http/openapi.ts";
import { assertContract } from "../helpers/contract.ts";

/**
 * The OpenAPI document: a valid OpenAPI 3.1 document by a third-party validator, complete
 * (every route, every documented refusal, every event), its examples true to its schemas, and
 * the committed copy (docs/openapi.json) exactly what the code generates.
 *
 * The validator is @seriousme/openapi-schema-validator: it checks a document against the
 * OpenAPI Initiative's own JSON Schemas for 3.0 and 3.1 (webhooks included), which it ships, so
 * it works offline; it is small (ajv underneath) and kept up with the specification.
 */
const doc = buildOpenApiDocument() as {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  webhooks: Record<string, { post: Operation }>;
  components: { schemas: Record<string, unknown> };
};
interface Operation {
  operationId: string;
  security?: unknown[];
  "x-roles": string[];
  requestBody?: { content: Record<string, { example?: unknown; schema: unknown }> };
  responses: Record<
    string,
    { $ref?: string; content?: Record<string, { example?: unknown; schema: unknown }> }
  >;
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
ajv.addSchema(doc, "openapi.json");
/** Whether `value` matches the schema at `location` in the document (a JSON pointer's segments). */
const matches = (location: string[], value: unknown) => {
  const pointer = location.map((s) => s.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");
  const validate =
    ajv.getSchema(`openapi.json#/${pointer}`) ?? ajv.compile({ $ref: `openapi.json#/${pointer}` });
  return validate(value) ? true : ajv.errorsText(validate.errors);
};

describe("docs/openapi.json", () => {
  it("is what `npm run openapi` generates from the route table (run it after changing the API)", () => {
    const committed = readFileSync(OPENAPI_PATH, "utf8");
    expect(
      committed === openApiText(),
      "docs/openapi.json is stale: run `npm run openapi` and commit the result",
    ).toBe(true);
  });
});

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator)", async () => {
    const result = await new Validator().validate(structuredClone(doc) as Record<string, unknown>);
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe("3.1.0");
  });

  it("has every route of the table, with its roles and every refusal it can answer", () => {
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual([...ROUTE_KEYS].sort());
    for (const key of ROUTE_KEYS) {
      const [method, path] = key.split(" ") as [string, string];
      const operation = doc.paths[path]?.[method.toLowerCase()] as Operation;
      const spec = ROUTE_TABLE[key];
      expect(operation["x-roles"]).toEqual(spec.auth === "public" ? [] : [...spec.auth]);
      if (spec.auth === "public") expect(operation.security).toEqual([]);
      const statuses = Object.keys(operation.responses).map(Number);
      for (const status of Object.keys(problemStatuses(spec)).map(Number)) {
        expect(statuses, `${key} documents ${status}`).toContain(status);
        const response = operation.responses[String(status)];
        const problem = response?.$ref ?? JSON.stringify(response?.content);
        expect(problem, `${key} ${status}`).toMatch(/Problem|#\/components\/responses\//);
      }
    }
    const ids = Object.values(doc.paths).flatMap((methods) =>
      Object.values(methods).map((operation) => operation.operationId),
    );
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("has the examples its schemas describe", () => {
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const json = "application/json";
        const body = operation.requestBody?.content[json];
        const at = ["paths", path, method];
        if (body) {
          const schema = [...at, "requestBody", "content", json, "schema"];
          expect(matches(schema, body.example), `${method} ${path} body`).toBe(true);
        }
        for (const [status, response] of Object.entries(operation.responses)) {
          const example = response.content?.[json]?.example;
          if (example === undefined) continue;
          const schema = [...at, "responses", status, "content", json, "schema"];
          expect(matches(schema, example), `${method} ${path} ${status}`).toBe(true);
        }
      }
    }
  });

  it("has a webhook per event: the strict envelope, the record with its id, the delivery headers", () => {
    expect(Object.keys(doc.webhooks)).toEqual(EVENT_CATALOG.map((entry) => entry.name));
    for (const entry of EVENT_CATALOG) {
      const post = doc.webhooks[entry.name]?.post as Operation & { parameters: unknown[] };
      const schema = ["webhooks", entry.name, "post", "requestBody", "content"];
      schema.push("application/json", "schema");
      expect(matches(schema, entry.example)).toBe(true);
      expect(matches(schema, { ...entry.example, extra: true })).not.toBe(true);
      expect(matches(schema, { ...entry.example, data: { name: "x" } })).not.toBe(true);
      if (entry.category === "crm") {
        // Further properties of the record are allowed, and passed on as sent.
        expect(matches(schema, { ...entry.example, data: { id: 7, custom: [1] } })).toBe(true);
      } else {
        // The service's own events are exactly what they document.
        expect(
          matches(schema, { ...entry.example, data: { ...entry.example.data, x: 1 } }),
        ).not.toBe(true);
      }
      expect(JSON.stringify(post.parameters)).toContain("WebhookSignature");
      expect(entry.envelope.safeParse(entry.example).success).toBe(true);
    }
  });
});

describe("the contract check of end-to-end answers", () => {
  const subscription = ROUTE_TABLE["GET /v1/subscriptions/{id}"].responses[200].example as Record<
    string,
    unknown
  >;
  it("accepts a documented answer, refuses an undocumented status or a body that drifted", () => {
    const json = "application/json";
    expect(() =>
      assertContract("GET", "/v1/subscriptions/sub_1", {
        status: 200,
        contentType: json,
        body: subscription,
      }),
    ).not.toThrow();
    expect(() =>
      assertContract("GET", "/v1/subscriptions/sub_1", {
        status: 200,
        contentType: json,
        body: { ...subscription, surprise: 1 },
      }),
    ).toThrow(/does not match/);
    expect(() =>
      assertContract("GET", "/v1/subscriptions/sub_1", {
        status: 201,
        contentType: json,
        body: subscription,
      }),
    ).toThrow(/not documented/);
    expect(() =>
      assertContract("GET", "/v1/subscriptions", {
        status: 404,
        contentType: "application/problem+json",
        body: { type: "/problems/not-found", title: "Not found", status: 404, detail: "x" },
      }),
    ).toThrow(/not documented/);
    expect(() =>
      assertContract("GET", "/nowhere", {
        status: 404,
        contentType: "application/problem+json",
        body: { type: "/problems/not-found", title: "Not found", status: 404, detail: "x" },
      }),
    ).not.toThrow();
  });
});
