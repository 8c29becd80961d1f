import { randomBytes } from "node:crypto";
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { KmsKeyring } from "../../shared/secrets/kms-keyring.ts";
import { FileKeyring, SecretBox, SecretError } from "../../shared/secrets/secret-box.ts";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr";

describe("SecretBox with the local key file", () => {
  const box = new SecretBox(new FileKeyring(randomBytes(32)));

  it("seals so that nothing of the secret shows, and opens it again", async () => {
    const sealed = await box.seal(secret, "acme/sub_1");
    expect(sealed).toMatch(/^v1\.file~[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain(secret.slice(6, 20));
    expect(await box.open(sealed, "acme/sub_1")).toBe(secret);
  });

  it("seals the same secret differently each time (fresh IV)", async () => {
    expect(await box.seal(secret, "acme/sub_1")).not.toBe(await box.seal(secret, "acme/sub_1"));
  });

  it("refuses to open a secret for another subscription or workspace", async () => {
    const sealed = await box.seal(secret, "acme/sub_1");
    // Opened (and kept open) for its own subscription first: the cache must not leak it.
    expect(await box.open(sealed, "acme/sub_1")).toBe(secret);
    await expect(box.open(sealed, "acme/sub_2")).rejects.toThrow(SecretError);
    await expect(box.open(sealed, "other/sub_1")).rejects.toThrow(SecretError);
  });

  it("refuses a tampered or foreign sealed secret", async () => {
    const sealed = await box.seal(secret, "acme/sub_1");
    const tampered = sealed.slice(0, -3) + (sealed.endsWith("A") ? "BBB" : "AAA");
    await expect(box.open(tampered, "acme/sub_1")).rejects.toThrow(SecretError);
    await expect(
      new SecretBox(new FileKeyring(randomBytes(32))).open(sealed, "acme/sub_1"),
    ).rejects.toThrow("the key file changed");
    await expect(box.open("plaintext-secret", "acme/sub_1")).rejects.toThrow("not a sealed secret");
  });

  it("refuses a key file that does not hold 32 bytes", () => {
    expect(() => new FileKeyring(randomBytes(16))).toThrow("32 bytes");
  });
});

describe("SecretBox with KMS", () => {
  const kms = mockClient(KMSClient);
  const dataKey = randomBytes(32);
  beforeEach(() => {
    kms.reset();
    kms
      .on(GenerateDataKeyCommand)
      .resolves({ Plaintext: dataKey, CiphertextBlob: Buffer.from("wrapped-by-kms") });
    kms.on(DecryptCommand).resolves({ Plaintext: dataKey });
  });

  it("asks KMS for a data key bound to its purpose, and reuses it for a while", async () => {
    let now = 0;
    const box = new SecretBox(
      new KmsKeyring(new KMSClient({ region: "us-east-1" }), "alias/webhooks"),
      () => now,
    );
    const sealed = await Promise.all(
      ["a", "b", "c"].map((s) => box.seal(`${s}${secret}`, "acme/sub_1")),
    );
    expect(sealed.every((s) => s.startsWith("v1.kms~"))).toBe(true);
    expect(kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(1);
    expect(kms.commandCalls(GenerateDataKeyCommand)[0]?.args[0].input).toEqual({
      KeyId: "alias/webhooks",
      KeySpec: "AES_256",
      EncryptionContext: { purpose: "customermates-webhooks-subscription-secrets" },
    });
    now += 16 * 60 * 1000;
    await box.seal(secret, "acme/sub_1");
    expect(kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(2);
  });

  it("unwraps each data key once per process, however many deliveries open secrets", async () => {
    const sealer = new SecretBox(
      new KmsKeyring(new KMSClient({ region: "us-east-1" }), "alias/webhooks"),
    );
    const sealed = await sealer.seal(secret, "acme/sub_1");
    const opener = new SecretBox(
      new KmsKeyring(new KMSClient({ region: "us-east-1" }), "alias/webhooks"),
    );
    for (let i = 0; i < 20; i++) expect(await opener.open(sealed, "acme/sub_1")).toBe(secret);
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(1);
    expect(kms.commandCalls(DecryptCommand)[0]?.args[0].input.EncryptionContext).toEqual({
      purpose: "customermates-webhooks-subscription-secrets",
    });
  });

  it("tries KMS again after a failed unwrap instead of caching the failure", async () => {
    const sealed = await new SecretBox(
      new KmsKeyring(new KMSClient({ region: "us-east-1" }), "k"),
    ).seal(secret, "w/s");
    const opener = new SecretBox(new KmsKeyring(new KMSClient({ region: "us-east-1" }), "k"));
    kms
      .on(DecryptCommand)
      .rejectsOnce(new Error("ThrottlingException"))
      .resolves({ Plaintext: dataKey });
    await expect(opener.open(sealed, "w/s")).rejects.toThrow("ThrottlingException");
    expect(await opener.open(sealed, "w/s")).toBe(secret);
  });

  it("says so when a secret was sealed by the other kind of keyring", async () => {
    const local = await new SecretBox(new FileKeyring(randomBytes(32))).seal(secret, "w/s");
    const opener = new SecretBox(new KmsKeyring(new KMSClient({ region: "us-east-1" }), "k"));
    await expect(opener.open(local, "w/s")).rejects.toThrow("sealed by another keyring");
  });
});
