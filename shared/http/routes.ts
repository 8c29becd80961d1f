import { ROUTE_KEYS, ROUTE_TABLE, type RouteKey } from "./contract.ts";

/**
 * Routing, from the contract (shared/http/contract.ts): API Gateway gets one route per entry
 * (so its metrics and throttling are per route) and the API function dispatches on the
 * `routeKey` it receives; the local gateway matches paths with `matchRoute` exactly as API
 * Gateway does.
 */
export { ROUTE_KEYS, type RouteKey };

/** Who may call each route: `public`, or the roles whose keys may. */
export const ROUTES = ROUTE_TABLE;

export type RouteMatch =
  | { kind: "route"; routeKey: RouteKey; pathParameters: Record<string, string> }
  | { kind: "method-not-allowed"; allowed: string[] }
  | { kind: "not-found" };

interface CompiledRoute {
  routeKey: RouteKey;
  method: string;
  pattern: RegExp;
  names: string[];
}

const compiled: CompiledRoute[] = ROUTE_KEYS.map((routeKey) => {
  const [method, path] = routeKey.split(" ") as [string, string];
  const names: string[] = [];
  const source = path
    .split("/")
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment);
      if (!param?.[1]) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      names.push(param[1]);
      return "([^/]+)";
    })
    .join("/");
  return { routeKey, method, pattern: new RegExp(`^${source}$`), names };
});

/** Matches a request line to a route; path parameters come back URL-decoded. */
export function matchRoute(method: string, path: string): RouteMatch {
  const allowed: string[] = [];
  for (const route of compiled) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    if (route.method !== method.toUpperCase()) {
      allowed.push(route.method);
      continue;
    }
    const pathParameters: Record<string, string> = {};
    route.names.forEach((name, index) => {
      pathParameters[name] = safeDecode(match[index + 1] ?? "");
    });
    return { kind: "route", routeKey: route.routeKey, pathParameters };
  }
  return allowed.length > 0 ? { kind: "method-not-allowed", allowed } : { kind: "not-found" };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
