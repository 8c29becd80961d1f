import { randomBytes } from "node:crypto";
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { secretContext } from "../../shared/secrets/keyring.ts";
import { KmsKeyring } from "../../shared/secrets/kms-keyring.ts";
import { FileKeyring, SecretBox, SecretError } from "../../shared/secrets/secret-box.ts";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr";
const acme = secretContext("acme", "sub_1");
/** What KMS (and the key file) binds a workspace's data keys to. */
const boundTo = (workspace: string) => ({ service: "customermates-webhooks", workspace });

describe("SecretBox with the local key file", () => {
  const box = new SecretBox(new FileKeyring(randomBytes(32)));

  it("seals so that nothing of the secret shows, and opens it again", async () => {
    const sealed = await box.seal(secret, acme);
    expect(sealed).toMatch(/^v2\.file~[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain(secret.slice(6, 20));
    expect(await box.open(sealed, acme)).toBe(secret);
  });

  it("seals the same secret differently each time (fresh IV)", async () => {
    expect(await box.seal(secret, acme)).not.toBe(await box.seal(secret, acme));
  });

  it("refuses to open a secret for another subscription or workspace", async () => {
    const sealed = await box.seal(secret, acme);
    // Opened (and kept open) for its own subscription first: the cache must not leak it.
    expect(await box.open(sealed, acme)).toBe(secret);
    await expect(box.open(sealed, secretContext("acme", "sub_2"))).rejects.toThrow(SecretError);
    await expect(box.open(sealed, secretContext("other", "sub_1"))).rejects.toThrow(SecretError);
  });

  it("refuses a tampered or foreign sealed secret", async () => {
    const sealed = await box.seal(secret, acme);
    const tampered = sealed.slice(0, -3) + (sealed.endsWith("A") ? "BBB" : "AAA");
    await expect(box.open(tampered, acme)).rejects.toThrow(SecretError);
    await expect(
      new SecretBox(new FileKeyring(randomBytes(32))).open(sealed, acme),
    ).rejects.toThrow("the key file changed");
    await expect(box.open("plaintext-secret", acme)).rejects.toThrow("not a sealed secret");
  });

  it("refuses an authentication tag shorter than 16 bytes (Node would check only its 4 bytes)", async () => {
    // An empty plaintext seals to its tag alone; cut to 4 bytes, a forger needs 2^32 tries.
    const parts = (await box.seal("", acme)).split(".");
    const tag = Buffer.from(parts[3] ?? "", "base64url");
    expect(tag).toHaveLength(16);
    for (const length of [4, 8, 12, 15]) {
      parts[3] = tag.subarray(0, length).toString("base64url");
      await expect(box.open(parts.join("."), acme)).rejects.toThrow(SecretError);
    }
  });

  it("binds each data key to its workspace, as KMS binds its encryption context", async () => {
    const keyring = new FileKeyring(randomBytes(32));
    const { plaintext, wrapped } = await keyring.generateDataKey(boundTo("acme"));
    expect(await keyring.unwrap(wrapped, boundTo("acme"))).toEqual(plaintext);
    await expect(keyring.unwrap(wrapped, boundTo("other"))).rejects.toThrow(SecretError);
    await expect(keyring.unwrap(wrapped, { purpose: "anything" })).rejects.toThrow(SecretError);
  });

  it("seals each workspace's secrets under data keys of its own", async () => {
    const wrappedKey = (sealed: string) => sealed.split(".")[1];
    const a = await box.seal(secret, acme);
    const b = await box.seal(secret, secretContext("other", "sub_1"));
    expect(wrappedKey(a)).not.toBe(wrappedKey(b));
    expect(wrappedKey(await box.seal(secret, secretContext("acme", "sub_2")))).toBe(wrappedKey(a));
  });

  it("says so when a secret was sealed in the format before data keys named their workspace", async () => {
    const sealed = (await box.seal(secret, acme)).replace(/^v2\./, "v1.");
    await expect(box.open(sealed, acme)).rejects.toThrow("set it again");
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

  it("asks KMS for a data key bound to the workspace, one per workspace, reused for a while", async () => {
    let now = 0;
    const box = new SecretBox(
      new KmsKeyring(new KMSClient({ region: "us-east-1" }), "alias/webhooks"),
      () => now,
    );
    const sealed = await Promise.all(["a", "b", "c"].map((s) => box.seal(`${s}${secret}`, acme)));
    expect(sealed.every((s) => s.startsWith("v2.kms~"))).toBe(true);
    expect(kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(1);
    expect(kms.commandCalls(GenerateDataKeyCommand)[0]?.args[0].input).toEqual({
      KeyId: "alias/webhooks",
      KeySpec: "AES_256",
      EncryptionContext: boundTo("acme"),
    });
    await box.seal(secret, secretContext("globex", "sub_9"));
    expect(kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(2);
    expect(kms.commandCalls(GenerateDataKeyCommand)[1]?.args[0].input.EncryptionContext).toEqual(
      boundTo("globex"),
    );
    now += 16 * 60 * 1000;
    await box.seal(secret, acme);
    expect(kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(3);
  });

  it("unwraps each data key once per process, however many deliveries open secrets", async () => {
    const sealer = new SecretBox(
      new KmsKeyring(new KMSClient({ region: "us-east-1" }), "alias/webhooks"),
    );
    const sealed = await sealer.seal(secret, acme);
    const opener = new SecretBox(
      new KmsKeyring(new KMSClient({ region: "us-east-1" }), "alias/webhooks"),
    );
    for (let i = 0; i < 20; i++) expect(await opener.open(sealed, acme)).toBe(secret);
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(1);
    expect(kms.commandCalls(DecryptCommand)[0]?.args[0].input.EncryptionContext).toEqual(
      boundTo("acme"),
    );
  });

  it("tries KMS again after a failed unwrap instead of caching the failure", async () => {
    const sealed = await new SecretBox(
      new KmsKeyring(new KMSClient({ region: "us-east-1" }), "k"),
    ).seal(secret, secretContext("w", "s"));
    const opener = new SecretBox(new KmsKeyring(new KMSClient({ region: "us-east-1" }), "k"));
    kms
      .on(DecryptCommand)
      .rejectsOnce(new Error("ThrottlingException"))
      .resolves({ Plaintext: dataKey });
    await expect(opener.open(sealed, secretContext("w", "s"))).rejects.toThrow(
      "ThrottlingException",
    );
    expect(await opener.open(sealed, secretContext("w", "s"))).toBe(secret);
  });

  it("says so when a secret was sealed by the other kind of keyring", async () => {
    const local = await new SecretBox(new FileKeyring(randomBytes(32))).seal(
      secret,
      secretContext("w", "s"),
    );
    const opener = new SecretBox(new KmsKeyring(new KMSClient({ region: "us-east-1" }), "k"));
    await expect(opener.open(local, secretContext("w", "s"))).rejects.toThrow(
      "sealed by another keyring",
    );
  });
});
