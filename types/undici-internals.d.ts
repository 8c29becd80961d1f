/**
 * The two parts of undici the sender uses — the agent (it dispatches on it directly) and the
 * connector — imported by path so that the deliver bundle carries one HTTP client and one
 * parser instead of all of undici (fetch, WebSocket, caches, mocks). undici has no `exports`
 * map, so Node resolves these paths; the version is pinned exactly in package.json because
 * they are internal.
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
