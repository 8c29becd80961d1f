import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StoredSecret } from "../../shared/domain.ts";
import { FileKeyring, newKeyFileContents, SecretBox } from "../../shared/secrets/secret-box.ts";
import { seal } from "../../shared/use-cases/subscriptions.ts";

/** A key file for tests, as the local stack makes one; functions get its path in their env. */
const contents = newKeyFileContents();
export const TEST_KEY_FILE = join(mkdtempSync(join(tmpdir(), "webhooks-key-")), "secret-key");
writeFileSync(TEST_KEY_FILE, contents, { mode: 0o600 });

export const testSecrets = new SecretBox(new FileKeyring(Buffer.from(contents.trim(), "base64")));

/** A secret sealed for one subscription, as the API stores it. */
export async function sealedSecret(
  workspaceId: string,
  subscriptionId: string,
  plaintext: string,
): Promise<StoredSecret> {
  return seal(plaintext, workspaceId, subscriptionId, testSecrets);
}
