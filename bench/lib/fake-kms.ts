/**
 * The two KMS operations the functions use (GenerateDataKey, Decrypt), over KMS's JSON
 * protocol on 127.0.0.1, for the cold-start benchmark: on Lambda the functions are configured
 * with a KMS key, build a KMS client at cold start and call Decrypt to open a signing secret,
 * and there is no KMS emulator. Data keys are wrapped with a local key bound to the encryption
 * context, as the local key file does (FileKeyring): a Decrypt under another context fails.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { FileKeyring } from "../../shared/secrets/secret-box.ts";

export interface FakeKms {
  endpoint: string;
  keyId: string;
  close(): Promise<void>;
}

export async function startFakeKms(): Promise<FakeKms> {
  const keyring = new FileKeyring(randomBytes(32));
  const keyId = "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000";
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const answer = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
        res.end(JSON.stringify(body));
      };
      try {
        const input = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
        const context = input.EncryptionContext ?? {};
        switch (req.headers["x-amz-target"]) {
          case "TrentService.GenerateDataKey": {
            const { plaintext, wrapped } = await keyring.generateDataKey(context);
            return answer(200, {
              KeyId: keyId,
              Plaintext: plaintext.toString("base64"),
              CiphertextBlob: Buffer.from(wrapped).toString("base64"),
            });
          }
          case "TrentService.Decrypt": {
            const wrapped = Buffer.from(input.CiphertextBlob, "base64").toString("utf8");
            const plaintext = await keyring.unwrap(wrapped, context);
            return answer(200, {
              KeyId: keyId,
              Plaintext: plaintext.toString("base64"),
              EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
            });
          }
          default:
            return answer(400, {
              __type: "UnsupportedOperationException",
              message: `${req.headers["x-amz-target"]} is not faked`,
            });
        }
      } catch (error) {
        answer(400, { __type: "InvalidCiphertextException", message: String(error) });
      }
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    keyId,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
