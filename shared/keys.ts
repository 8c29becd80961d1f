import { createHash, randomBytes } from "node:crypto";
import { UnauthorizedError } from "./errors.ts";

/**
 * API keys look like `whk_<workspace>_<secret>`. The workspace id in the key is not a secret;
 * it lets the API find the key's workspace partition with one read, which is what keeps ingest
 * at a single DynamoDB call (see docs/data-model.md). Only the SHA-256 of the whole key is
 * stored: the secret part carries 256 bits of entropy, so a fast hash is the right tool.
 */
export { ROLES, type Role, WORKSPACE_ID } from "./roles.ts";

const KEY_FORMAT = /^whk_([a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?)_([A-Za-z0-9]{32,128})$/;

export interface ParsedKey {
  workspaceId: string;
  /** Lowercase hex SHA-256 of the full key string. */
  hash: string;
}

export function generateApiKey(workspaceId: string): string {
  return `whk_${workspaceId}_${randomBytes(32).toString("hex")}`;
}

export const isApiKeyFormat = (key: string): boolean => KEY_FORMAT.test(key);

export const hashApiKey = (key: string): string => createHash("sha256").update(key).digest("hex");

/** A short, non-secret label for listing keys: the workspace and the first 4 secret characters. */
export function keyHint(key: string): string {
  const match = KEY_FORMAT.exec(key);
  return match ? `whk_${match[1]}_${match[2]?.slice(0, 4)}…` : "whk_…";
}

/** Reads `Authorization: Bearer <key>`; refuses anything else with a 401 that says why. */
export function parseBearer(header: string | undefined): ParsedKey {
  if (!header) throw new UnauthorizedError("Send an API key as 'Authorization: Bearer <key>'.");
  const match = /^Bearer +(\S+)$/i.exec(header.trim());
  if (!match?.[1]) throw new UnauthorizedError("The Authorization header must be 'Bearer <key>'.");
  const key = match[1];
  const parts = KEY_FORMAT.exec(key);
  if (!parts?.[1]) throw new UnauthorizedError("The API key is not valid.");
  return { workspaceId: parts[1], hash: hashApiKey(key) };
}
