import { readFileSync } from "node:fs";
import { KMSClient } from "@aws-sdk/client-kms";
import type { Config } from "../config.ts";
import { KmsKeyring } from "./kms-keyring.ts";
import { FileKeyring, type Keyring, type SecretContext, SecretError } from "./secret-box.ts";

/** The keyring the configuration names: KMS on AWS, the key file in the local stack. */
export function createKeyring(config: Config): Keyring {
  if ("kmsKeyId" in config.secretKeys) {
    return new KmsKeyring(new KMSClient({ maxAttempts: 5 }), config.secretKeys.kmsKeyId);
  }
  const path = config.secretKeys.keyFile;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new SecretError(`cannot read WEBHOOKS_SECRET_KEY_FILE ${path}`, { cause: error });
  }
  return new FileKeyring(Buffer.from(text.trim(), "base64"));
}

/** What a subscription's secrets are sealed for: its workspace's data keys, its own id. */
export const secretContext = (workspaceId: string, subscriptionId: string): SecretContext => ({
  workspaceId,
  subscriptionId,
});
