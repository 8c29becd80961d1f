import type { ApiKey } from "../domain.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import { newKeyId } from "../ids.ts";
import { generateApiKey, hashApiKey, keyHint, type Role } from "../keys.ts";
import type { WorkspaceStore } from "../ports.ts";

/** Most keys a workspace may hold (they are read on every ingest, with the subscriptions). */
export const MAX_KEYS = 50;

/** Mints a key; the plaintext is returned this once and only its hash is stored. */
export async function createKey(
  workspaceId: string,
  input: { role: Role; name?: string | undefined },
  store: WorkspaceStore,
  now = Date.now(),
): Promise<{ apiKey: ApiKey; plaintext: string }> {
  const existing = await store.listKeys(workspaceId);
  if (existing.filter((k) => !k.revokedAt).length >= MAX_KEYS) {
    throw new ConflictError(
      `This workspace already has ${MAX_KEYS} active keys; revoke one first.`,
    );
  }
  const plaintext = generateApiKey(workspaceId);
  const apiKey: ApiKey = {
    id: newKeyId(),
    workspaceId,
    hash: hashApiKey(plaintext),
    role: input.role,
    name: input.name ?? input.role,
    hint: keyHint(plaintext),
    createdAt: new Date(now).toISOString(),
  };
  if (!(await store.putKey(apiKey))) throw new Error("a freshly generated key collided");
  return { apiKey, plaintext };
}

/** Revokes a key at once. The last active admin key cannot be revoked through the API. */
export async function revokeKey(
  workspaceId: string,
  keyId: string,
  store: WorkspaceStore,
  now = Date.now(),
): Promise<ApiKey> {
  const keys = await store.listKeys(workspaceId);
  const target = keys.find((k) => k.id === keyId);
  if (!target) throw new NotFoundError(`No key '${keyId}' in this workspace.`);
  if (target.revokedAt) return target;
  const admins = keys.filter((k) => k.role === "admin" && !k.revokedAt);
  if (target.role === "admin" && admins.length === 1) {
    throw new ConflictError(
      "This is the workspace's last admin key; create another admin key before revoking it.",
    );
  }
  const revoked = await store.revokeKey(workspaceId, keyId, new Date(now).toISOString());
  if (!revoked) throw new NotFoundError(`No key '${keyId}' in this workspace.`);
  return revoked;
}
