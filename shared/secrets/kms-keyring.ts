import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from "@aws-sdk/client-kms";
import { type EncryptionContext, type Keyring, SecretError } from "./secret-box.ts";

/**
 * Data keys from a KMS key: the key-encryption key never leaves KMS. Each data key is bound to
 * its encryption context (the service and the workspace), so KMS refuses to unwrap it for any
 * other workspace, and CloudTrail records which workspace every decrypt was for.
 */
export class KmsKeyring implements Keyring {
  readonly #kms: KMSClient;
  readonly #keyId: string;

  constructor(kms: KMSClient, keyId: string) {
    this.#kms = kms;
    this.#keyId = keyId;
  }

  async generateDataKey(context: EncryptionContext) {
    const { Plaintext, CiphertextBlob } = await this.#kms.send(
      new GenerateDataKeyCommand({
        KeyId: this.#keyId,
        KeySpec: "AES_256",
        EncryptionContext: { ...context },
      }),
    );
    if (!Plaintext || !CiphertextBlob) throw new SecretError("KMS returned no data key");
    return {
      plaintext: Buffer.from(Plaintext),
      wrapped: `kms~${Buffer.from(CiphertextBlob).toString("base64url")}`,
    };
  }

  async unwrap(wrapped: string, context: EncryptionContext): Promise<Buffer> {
    if (!wrapped.startsWith("kms~")) {
      throw new SecretError(
        "this secret was sealed by another keyring (a local key file), not KMS",
      );
    }
    const { Plaintext } = await this.#kms.send(
      new DecryptCommand({
        KeyId: this.#keyId,
        CiphertextBlob: Buffer.from(wrapped.slice(4), "base64url"),
        EncryptionContext: { ...context },
      }),
    );
    if (!Plaintext) throw new SecretError("KMS returned no data key");
    return Buffer.from(Plaintext);
  }
}
