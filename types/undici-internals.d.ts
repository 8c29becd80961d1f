/**
 * The three parts of undici the sender uses, imported by path so that the deliver bundle
 * carries one HTTP client and one parser instead of all of undici (fetch, WebSocket, caches,
 * mocks: ~535 KB minified → ~290 KB). undici has no `exports` map, so Node resolves these
 * paths; the version is pinned exactly in package.json because they are internal.
 */
declare module "undici/lib/dispatcher/agent.js" {
  import type { Agent } from "undici";

  const AgentClass: typeof Agent;
  export default AgentClass;
}

declare module "undici/lib/core/connect.js" {
  import type { buildConnector } from "undici";

  const build: typeof buildConnector;
  export default build;
}

declare module "undici/lib/api/api-request.js" {
  import type { Dispatcher } from "undici";

  /** Dispatcher#request, unbound: call it with the agent as `this`. */
  function request(
    this: Dispatcher,
    options: Dispatcher.RequestOptions,
  ): Promise<Dispatcher.ResponseData>;
  export default request;
}
