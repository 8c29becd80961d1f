import type { ApiKey } from "../domain.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import { newKeyId } from "../ids.ts";
import { generateApiKey, hashApiKey, keyHint, type Role } from "../keys.ts";
import type { WorkspaceStore } from "../ports.ts";

/** Most keys a workspace may hold (they are read on every ingest, with the subscriptions). */
export const MAX_KEYS = 50;

/**
 * Mints a key; the plaintext is returned this once and only its hash is stored. The limit
 * holds under concurrency: the store counts the key and checks the limit in one conditional
 * write (shared/store/limits.ts), so concurrent creates cannot pass it together.
 */
export async function createKey(
  workspaceId: string,
  input: { role: Role; name?: string | undefined },
  store: WorkspaceStore,
  now = Date.now(),
): Promise<{ apiKey: ApiKey; plaintext: string }> {
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
  const created = await store.putKey(apiKey, MAX_KEYS);
  if (created === "limit") {
    throw new ConflictError(
      `This workspace already has ${MAX_KEYS} active keys; revoke one first.`,
    );
  }
  if (created === "exists") throw new Error("a freshly generated key collided");
  return { apiKey, plaintext };
}

/**
 * Revokes a key at once. The last active admin key cannot be revoked through the API, even by
 * concurrent revokes of the last two: the store refuses in the same conditional write that
 * takes a key out of the workspace's admin keys.
 */
export async function revokeKey(
  workspaceId: string,
  keyId: string,
  store: WorkspaceStore,
  now = Date.now(),
): Promise<ApiKey> {
  const revocation = await store.revokeKey(workspaceId, keyId, new Date(now).toISOString());
  if (!revocation) throw new NotFoundError(`No key '${keyId}' in this workspace.`);
  if (revocation.outcome === "last-admin") {
    throw new ConflictError(
      "This is the workspace's last admin key; create another admin key before revoking it.",
    );
  }
  return revocation.key;
}
