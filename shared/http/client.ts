import type {
  BodyRequired,
  HasBody,
  PathParams,
  QueryParams,
  RequestBody,
  RouteKey,
  SuccessBody,
} from "./contract.ts";
import type { ProblemBody } from "./resources.ts";

/**
 * A typed client of the HTTP API, for the CLI and the web console: `call("GET
 * /v1/deliveries/{id}", { params: { id } })` answers the route's documented success body. Its
 * types come from the route table itself (shared/http/contract.ts, z.infer of the same zod
 * schemas the API validates with), so there is no generated file to keep fresh. It imports
 * types only: in a bundle it is this file alone, fetch and URLSearchParams, no Node built-ins.
 */
export type Problem = Partial<ProblemBody>;

/** The API answered with a problem document (4xx/5xx). */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(status: number, problem: Problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
  }
}

/** The API could not be reached at all. */
export class UnreachableError extends Error {
  override name = "UnreachableError";
}

type QueryValue = string | number | boolean | undefined;

/** What a call sends: path parameters, query, body, each where the route has them. */
export type CallInput<K extends RouteKey> = ([keyof PathParams<K>] extends [never]
  ? { params?: undefined }
  : { params: PathParams<K> }) &
  ([QueryParams<K>] extends [never]
    ? { query?: undefined }
    : { query?: { [Q in keyof QueryParams<K>]?: QueryValue } }) &
  (HasBody<K> extends false
    ? { body?: undefined; rawBody?: undefined }
    : BodyRequired<K> extends true
      ? { body: RequestBody<K>; rawBody?: undefined } | { body?: undefined; rawBody: string }
      : { body?: RequestBody<K>; rawBody?: string });

/** Routes whose input may be left out entirely. */
type NoInputRoute = {
  [K in RouteKey]: object extends CallInput<K> ? K : never;
}[RouteKey];

export interface ClientOptions {
  /** The API key (`Authorization: Bearer …`); none for public routes. */
  key?: string | undefined;
  /** Another fetch (tests, or a browser's with credentials). */
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export class ApiClient {
  readonly baseUrl: string;
  readonly #key: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;

  constructor(baseUrl: string, options: ClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#key = options.key;
    this.#fetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** Calls one route; resolves with its success body, rejects with ApiError or UnreachableError. */
  call<K extends NoInputRoute>(route: K, input?: CallInput<K>): Promise<SuccessBody<K>>;
  call<K extends RouteKey>(route: K, input: CallInput<K>): Promise<SuccessBody<K>>;
  async call<K extends RouteKey>(route: K, input?: CallInput<K>): Promise<SuccessBody<K>> {
    const { params, query, body, rawBody } = (input ?? {}) as {
      params?: Record<string, string>;
      query?: Record<string, QueryValue>;
      body?: unknown;
      rawBody?: string;
    };
    const [method, template] = route.split(" ") as [string, string];
    const path = template.replace(/\{(\w+)\}/g, (_, name: string) =>
      encodeURIComponent(params?.[name] ?? ""),
    );
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#key) headers.authorization = `Bearer ${this.#key}`;
    // Raw text keeps a record's numbers exactly as written (a 20-digit id is not a double).
    const text = rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
    if (text !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await this.#fetch(`${this.baseUrl}${path}${queryString(query ?? {})}`, {
        method,
        headers,
        ...(text === undefined ? {} : { body: text }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const cause =
        (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new UnreachableError(`Cannot reach the API at ${this.baseUrl} (${cause}).`);
    }
    const answer = await response.text();
    const parsed = answer ? safeJson(answer) : undefined;
    if (!response.ok) {
      throw new ApiError(response.status, (parsed as Problem | undefined) ?? { detail: answer });
    }
    return parsed as SuccessBody<K>;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text };
  }
}

/** A query string from the defined values only. */
export function queryString(params: Record<string, QueryValue>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
