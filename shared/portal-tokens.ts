import { createHash, randomBytes } from "node:crypto";

/**
 * Portal session tokens look like `whp_<workspace>_<64 hex>`: `whp_` tells them from API keys
 * (`whk_`) at a glance and in the router, and the workspace lets the router find the session
 * with one GetItem, as keys do. The secret part carries 256 bits of entropy; only the SHA-256
 * of the whole token is stored.
 */
const TOKEN_FORMAT = /^whp_([a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?)_([0-9a-f]{64})$/;
const BEARER = /^Bearer +(\S+)$/i;

export function generatePortalToken(workspaceId: string): string {
  return `whp_${workspaceId}_${randomBytes(32).toString("hex")}`;
}

export const hashPortalToken = (token: string): string =>
  createHash("sha256").update(token).digest("hex");

/** The workspace and hash of a portal token in `Authorization: Bearer …`, or undefined. */
export function parsePortalBearer(
  header: string | undefined,
): { workspaceId: string; hash: string } | undefined {
  const token = BEARER.exec(header?.trim() ?? "")?.[1] ?? "";
  const match = TOKEN_FORMAT.exec(token);
  return match?.[1] ? { workspaceId: match[1], hash: hashPortalToken(token) } : undefined;
}
