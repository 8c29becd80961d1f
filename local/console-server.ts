import { readFile, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { consoleSecurityHeaders } from "../shared/http/console-headers.ts";

/**
 * Serves the built web console (`console/dist`) at `/console`, as CloudFront does on AWS: the
 * same files, content types and security headers (shared/http/console-headers.ts), the page
 * never cached, the hashed assets cached for good. Same origin as the API, so no CORS.
 */
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
  ".map": "application/json",
};

export const CONSOLE_PATH = "/console";

export const isConsolePath = (path: string): boolean =>
  path === CONSOLE_PATH || path.startsWith(`${CONSOLE_PATH}/`);

export async function serveConsole(
  req: IncomingMessage,
  res: ServerResponse,
  options: { dir: string; frameAncestors: string },
): Promise<void> {
  const headers = consoleSecurityHeaders(options.frameAncestors);
  const send = (status: number, body: string | Buffer, extra: Record<string, string>) => {
    res.writeHead(status, { ...headers, ...extra });
    res.end(req.method === "HEAD" ? undefined : body);
  };
  const text = (status: number, body: string, extra: Record<string, string> = {}) =>
    send(status, body, {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
      ...extra,
    });
  if (req.method !== "GET" && req.method !== "HEAD") {
    return text(405, "Method not allowed.\n", { allow: "GET, HEAD" });
  }
  const path = new URL(req.url ?? "/", "http://local").pathname;
  let relative: string;
  try {
    relative = decodeURIComponent(path.slice(CONSOLE_PATH.length)).replace(/^\/+/, "");
  } catch {
    return text(400, "Bad path.\n");
  }
  if (relative === "" || relative === "index.html") relative = "index.html";
  const file = normalize(join(options.dir, relative));
  if (
    !file.startsWith(`${normalize(options.dir)}${sep}`) ||
    relative.split("/").some((p) => p.startsWith("."))
  ) {
    return text(404, "Not found.\n");
  }
  const found = await stat(file).catch(() => undefined);
  if (!found?.isFile()) {
    if (relative === "index.html") {
      return text(
        503,
        "The web console is not built. `npm start` builds it; or run `npm run console:build`.\n",
      );
    }
    return text(404, "Not found.\n");
  }
  const immutable = relative.startsWith("assets/");
  return send(200, await readFile(file), {
    "content-type": TYPES[extname(file)] ?? "application/octet-stream",
    "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
  });
}
