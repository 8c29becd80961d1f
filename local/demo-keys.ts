import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { newKeyId } from "../shared/ids.ts";
import { generateApiKey, hashApiKey, isApiKeyFormat, keyHint, type Role } from "../shared/keys.ts";
import type { WorkspaceStore } from "../shared/ports.ts";

export const DEMO_WORKSPACE = "demo";

export interface DemoKeys {
  admin: string;
  ingest: string;
  /** Where the keys came from, for the banner. */
  source: "environment" | "generated" | "saved";
}

/**
 * The demo workspace's admin and ingest keys: from WEBHOOKS_LOCAL_ADMIN_KEY /
 * WEBHOOKS_LOCAL_INGEST_KEY when set, otherwise generated on first start and kept in the data
 * directory (mode 0600) so they stay the same across restarts. The table stores only hashes;
 * earlier local keys that no longer match are revoked.
 */
export async function ensureDemoKeys(
  store: WorkspaceStore,
  dataDir: string,
  env: { admin?: string | undefined; ingest?: string | undefined },
): Promise<DemoKeys> {
  const keys = await chooseKeys(dataDir, env);
  const now = new Date().toISOString();
  const existing = await store.listKeys(DEMO_WORKSPACE);
  for (const role of ["admin", "ingest"] as const) {
    const name = `local-${role}`;
    const hash = hashApiKey(keys[role]);
    if (!existing.some((k) => k.hash === hash && !k.revokedAt)) {
      await store.putKey({
        id: newKeyId(),
        workspaceId: DEMO_WORKSPACE,
        hash,
        role: role satisfies Role,
        name,
        hint: keyHint(keys[role]),
        createdAt: now,
      });
    }
  }
  // The keys replaced, once their successors exist (the last admin key is never revoked).
  for (const role of ["admin", "ingest"] as const) {
    const hash = hashApiKey(keys[role]);
    for (const stale of existing.filter(
      (k) => k.name === `local-${role}` && k.hash !== hash && !k.revokedAt,
    )) {
      await store.revokeKey(DEMO_WORKSPACE, stale.id, now);
    }
  }
  return keys;
}

async function chooseKeys(
  dataDir: string,
  env: { admin?: string | undefined; ingest?: string | undefined },
): Promise<DemoKeys> {
  if (env.admin || env.ingest) {
    for (const [name, value] of [
      ["WEBHOOKS_LOCAL_ADMIN_KEY", env.admin],
      ["WEBHOOKS_LOCAL_INGEST_KEY", env.ingest],
    ] as const) {
      if (!value || !isApiKeyFormat(value) || !value.startsWith(`whk_${DEMO_WORKSPACE}_`)) {
        throw new Error(
          `${name} must be set to a key of the demo workspace: whk_${DEMO_WORKSPACE}_ followed by ` +
            `32-128 letters or digits, for example ${generateApiKey(DEMO_WORKSPACE)}` +
            " (set both variables, or neither to have keys generated).",
        );
      }
    }
    if (env.admin === env.ingest) {
      throw new Error("WEBHOOKS_LOCAL_ADMIN_KEY and WEBHOOKS_LOCAL_INGEST_KEY must differ.");
    }
    return { admin: env.admin as string, ingest: env.ingest as string, source: "environment" };
  }
  const file = join(dataDir, "local-keys.json");
  try {
    const saved = JSON.parse(await readFile(file, "utf8")) as { admin?: string; ingest?: string };
    if (
      saved.admin &&
      saved.ingest &&
      isApiKeyFormat(saved.admin) &&
      isApiKeyFormat(saved.ingest)
    ) {
      return { admin: saved.admin, ingest: saved.ingest, source: "saved" };
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const keys = {
    admin: generateApiKey(DEMO_WORKSPACE),
    ingest: generateApiKey(DEMO_WORKSPACE),
  };
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return { ...keys, source: "generated" };
}
