/**
 * What a key may do, and what a workspace id looks like: plain data, shared by the API, its
 * contract (shared/http/contract.ts) and clients that run in a browser.
 */
export type Role = "admin" | "ingest";
export const ROLES: readonly Role[] = ["admin", "ingest"];

export const WORKSPACE_ID = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/**
 * What a portal session (the web console embedded in the CRM, `POST /v1/portal-sessions`) may
 * do: `read` subscriptions, deliveries and dead letters, `manage` subscriptions (create, change,
 * rotate, test, delete), `resend` deliveries (one, a window, the dead letters). Each route of
 * the table names the capability it needs; routes that name none (keys, portal sessions,
 * ingest) are for keys only.
 */
export type Capability = "read" | "manage" | "resend";
export const CAPABILITIES: readonly Capability[] = ["read", "manage", "resend"];
