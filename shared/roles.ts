/**
 * What a key may do, and what a workspace id looks like: plain data, shared by the API, its
 * contract (shared/http/contract.ts) and clients that run in a browser.
 */
export type Role = "admin" | "ingest";
export const ROLES: readonly Role[] = ["admin", "ingest"];

export const WORKSPACE_ID = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
