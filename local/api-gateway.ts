import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from "aws-lambda";
import { matchRoute } from "../shared/http/routes.ts";
import { isConsolePath, serveConsole } from "./console-server.ts";
import { INVOKE_TOKEN_ENV, INVOKE_TOKEN_HEADER, isInvokeToken } from "./invoke-token.ts";
import { lambdaContext } from "./lambda-context.ts";

export type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** Functions that can be invoked by name, as with `aws lambda invoke`. */
export type InvokableFunctions = Record<
  string,
  (event: unknown, context: Context) => Promise<unknown>
>;

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

/** API Gateway refuses bodies above 10 MB before a function ever sees them. */
const MAX_BODY = 10 * 1024 * 1024;
const TEXT_TYPES = /^(text\/|application\/(json|.+\+json|xml|javascript|x-www-form-urlencoded))/i;

/**
 * Does locally what API Gateway (HTTP API, payload format 2.0) does: turns each HTTP request
 * into the event the API function receives, with the route key and path parameters of the
 * matched route (`$default` when none matches), and writes the function's result back.
 */
export async function startApiGateway(
  handler: ApiHandler,
  options: {
    port: number;
    host: string;
    timeoutMs: number;
    functions?: InvokableFunctions;
    /** What Invoke API callers must present (see local/invoke-token.ts); none: no invocations. */
    invokeToken?: string;
    /** The web console's build, served at /console as CloudFront serves it on AWS. */
    console?: { dir: string; frameAncestors: string };
  },
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const invoke = INVOKE_PATH.exec(req.url ?? "");
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const work = invoke
      ? serveInvoke(req, res, decodeURIComponent(invoke[1] ?? ""), options)
      : options.console && isConsolePath(path)
        ? serveConsole(req, res, options.console)
        : options.console && path === "/" && req.method === "GET"
          ? redirect(res, "/console/")
          : serve(req, res, handler, options.timeoutMs);
    work.catch((error) => {
      console.error(
        JSON.stringify({ level: "error", message: "gateway failure", detail: String(error) }),
      );
      if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: "Internal Server Error" }));
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function redirect(res: ServerResponse, location: string): Promise<void> {
  res.writeHead(302, { location, "cache-control": "no-store" });
  res.end();
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  handler: ApiHandler,
  timeoutMs: number,
): Promise<void> {
  const body = await readBody(req);
  if (body === undefined) {
    res.writeHead(413, { "content-type": "application/json" });
    res.end(JSON.stringify({ message: "Request Entity Too Large" }));
    return;
  }
  const event = toEvent(req, body);
  const result = await handler(event, lambdaContext("webhooks-api", timeoutMs));
  const headers: Record<string, string | string[]> = {
    ...(result.headers as Record<string, string>),
  };
  if (result.cookies?.length) headers["set-cookie"] = result.cookies;
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(
    result.body ? Buffer.from(result.body, result.isBase64Encoded ? "base64" : "utf8") : undefined,
  );
}

/**
 * Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`), so operators can run
 * the resend function locally as they would on AWS (`webhooks dlq drain`). Operator-only
 * functions have no authentication of their own (on AWS, IAM guards Invoke), so this answers
 * only loopback callers that present the invoke token in its header, and never a request with
 * an `Origin`: browsers send one on every cross-site POST, operators' tools do not. It grants
 * no CORS preflight, so a web page cannot add the header in the first place.
 */
async function serveInvoke(
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  options: { timeoutMs: number; functions?: InvokableFunctions; invokeToken?: string },
): Promise<void> {
  const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
  const deny = (message: string) =>
    reply(403, { Type: "User", message }, { "x-amzn-errortype": "AccessDeniedException" });
  const remote = req.socket.remoteAddress ?? "";
  if (!["127.0.0.1", "::1", "::ffff:127.0.0.1"].includes(remote)) {
    return deny("Local function invocation is open to loopback callers only.");
  }
  if (req.headers.origin !== undefined) {
    return deny("Local function invocation is not open to web pages.");
  }
  const presented = req.headers[INVOKE_TOKEN_HEADER];
  if (
    !options.invokeToken ||
    !isInvokeToken(typeof presented === "string" ? presented : undefined, options.invokeToken)
  ) {
    return deny(
      `Local function invocation needs the local stack's invoke token in the ${INVOKE_TOKEN_HEADER} header (npm start prints it as ${INVOKE_TOKEN_ENV}).`,
    );
  }
  const { functions = {}, timeoutMs } = options;
  const fn = functions[name.split(":").at(-1) ?? ""];
  if (req.method !== "POST" || !fn) {
    return reply(
      404,
      { Type: "User", message: `Function not found: ${name}` },
      {
        "x-amzn-errortype": "ResourceNotFoundException",
      },
    );
  }
  const body = (await readBody(req))?.toString("utf8") ?? "";
  let payload: unknown;
  try {
    payload = body ? JSON.parse(body) : {};
  } catch {
    return reply(
      400,
      { Type: "User", message: "Could not parse request body into json" },
      {
        "x-amzn-errortype": "InvalidRequestContentException",
      },
    );
  }
  try {
    const result = await fn(payload, lambdaContext(name, timeoutMs));
    return reply(200, result ?? null, { "x-amz-executed-version": "$LATEST" });
  } catch (error) {
    // As Lambda does: the invocation succeeds, the function's error is the payload.
    const e = error as Error;
    return reply(
      200,
      { errorType: e.name ?? "Error", errorMessage: e.message ?? String(error) },
      {
        "x-amz-function-error": "Unhandled",
      },
    );
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function toEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? "/", "http://local");
  const method = (req.method ?? "GET").toUpperCase();
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && name !== "cookie") {
      headers[name] = Array.isArray(value) ? value.join(",") : value;
    }
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = name in query ? `${query[name]},${value}` : value;
  }
  const match = matchRoute(method, url.pathname);
  const routeKey = match.kind === "route" ? match.routeKey : "$default";
  const contentType = headers["content-type"] ?? "";
  const isText = body.length === 0 || TEXT_TYPES.test(contentType);
  const now = new Date();
  return {
    version: "2.0",
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(req.headers.cookie ? { cookies: req.headers.cookie.split(/;\s*/) } : {}),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    ...(match.kind === "route" && Object.keys(match.pathParameters).length
      ? { pathParameters: match.pathParameters }
      : {}),
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: headers.host ?? "localhost",
      domainPrefix: "local",
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey,
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: isText ? body.toString("utf8") : body.toString("base64") } : {}),
    isBase64Encoded: body.length > 0 && !isText,
  };
}
