import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { problemStatuses, ROUTE_TABLE, type RouteKey } from "../../shared/http/contract.ts";
import { buildOpenApiDocument } from "../../shared/http/openapi.ts";
import { matchRoute } from "../../shared/http/routes.ts";

/**
 * The contract check every end-to-end answer goes through (test/helpers/api-client.ts): the
 * status must be one the OpenAPI document lists for the route, and the body must validate
 * against the schema documented for that status — compiled with ajv (JSON Schema 2020-12, the
 * dialect OpenAPI 3.1 uses) straight from the document, so the spec cannot drift from the code.
 */
const document = buildOpenApiDocument() as {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  components: { responses: Record<string, unknown> };
};

// strict: false, because OpenAPI adds keywords of its own (`example`) around the schemas.
const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
ajv.addSchema(document, "openapi.json");

const pointer = (...segments: string[]) =>
  segments.map((s) => s.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");

const compiled = new Map<string, ReturnType<Ajv2020["compile"]>>();
function validator(ref: string) {
  let validate = compiled.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: `openapi.json#/${ref}` });
    compiled.set(ref, validate);
  }
  return validate;
}

/** Routes that got at least one answer checked against the document (in this process). */
export const checkedRoutes = new Set<RouteKey>();

export interface Answer {
  status: number;
  contentType: string | null;
  body: unknown;
}

/** Throws, saying what differs, unless `answer` is what the document promises. */
export function assertContract(method: string, rawPath: string, answer: Answer): void {
  const path = new URL(rawPath, "http://api.invalid").pathname;
  const match = matchRoute(method, path);
  const where = `${method} ${path} → ${answer.status}`;
  if (match.kind !== "route") {
    // Unknown path or method: a problem document, whatever the route.
    expectProblem(where, answer, [404, 405]);
    return;
  }
  const spec = ROUTE_TABLE[match.routeKey];
  const [, template] = match.routeKey.split(" ") as [string, string];
  const documented = document.paths[template]?.[method.toLowerCase()]?.responses ?? {};
  const response = documented[String(answer.status)] as
    | { $ref?: string; content?: Record<string, unknown> }
    | undefined;
  if (!response) {
    throw new Error(
      `${where}: ${answer.status} is not documented for ${match.routeKey} (documented: ${Object.keys(documented).join(", ")})`,
    );
  }
  if (answer.status >= 400) {
    expectProblem(where, answer, Object.keys(problemStatuses(spec)).map(Number));
  } else {
    const content = response.content?.["application/json"];
    if (!content) {
      if (answer.body !== null && answer.body !== "") {
        throw new Error(
          `${where}: documented without a body, answered ${JSON.stringify(answer.body)}`,
        );
      }
    } else {
      if (!answer.contentType?.startsWith("application/json")) {
        throw new Error(`${where}: content-type ${answer.contentType}, not application/json`);
      }
      check(
        where,
        pointer("paths", template, method.toLowerCase(), "responses", String(answer.status)) +
          "/content/application~1json/schema",
        answer.body,
      );
    }
  }
  checkedRoutes.add(match.routeKey);
}

function expectProblem(where: string, answer: Answer, statuses: number[]) {
  if (!statuses.includes(answer.status)) {
    throw new Error(`${where}: not among the documented refusals ${statuses.join(", ")}`);
  }
  if (answer.contentType !== "application/problem+json") {
    throw new Error(`${where}: content-type ${answer.contentType}, not application/problem+json`);
  }
  check(where, "components/schemas/Problem", answer.body);
  if ((answer.body as { status?: number }).status !== answer.status) {
    throw new Error(`${where}: the problem's status differs from the answer's`);
  }
}

function check(where: string, ref: string, body: unknown) {
  const validate = validator(ref);
  if (!validate(body)) {
    throw new Error(
      `${where}: the body does not match the OpenAPI document (${ref}): ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 2000)}`,
    );
  }
}
