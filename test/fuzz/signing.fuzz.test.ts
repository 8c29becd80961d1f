import { createHmac } from "node:crypto";
import fc from "fast-check";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { deliveryHeaders } from "../../shared/signing.ts";
import { fuzz } from "./settings.ts";

/**
 * A receiver that verifies both signatures, as README "Verifying deliveries" says to, with code
 * of its own (a plain HMAC and the standardwebhooks library), never the signing code under test.
 */
function verifies(secret: string, body: string, headers: Record<string, string>): boolean {
  const hex = createHmac("sha256", Buffer.from(secret, "utf8")).update(body, "utf8").digest("hex");
  if (headers["X-Webhook-Signature"] !== hex) return false;
  const wh = secret.startsWith("whsec_")
    ? new Webhook(secret)
    : new Webhook(secret, { format: "raw" });
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  try {
    wh.verify(body, lower);
    return true;
  } catch {
    return false;
  }
}

const secrets = fc.oneof(
  fc
    .uint8Array({ minLength: 24, maxLength: 64 })
    .map((bytes) => `whsec_${Buffer.from(bytes).toString("base64")}`),
  // Custom secrets are printable ASCII (shared/schemas.ts explains why).
  fc
    .string({ unit: "grapheme-ascii", minLength: 16, maxLength: 64 })
    .filter((s) => /^[\x20-\x7e]+$/.test(s) && s.trim() === s && !s.startsWith("whsec_")),
);
const bodies = fc
  .jsonValue()
  .map((data) =>
    JSON.stringify({ event: "deal.updated", data, timestamp: "2026-11-26T10:00:00Z" }),
  );
const ids = fc.stringMatching(/^dlv_[0-9A-Z]{42}$/);
const now = () => Math.floor(Date.now() / 1000);

describe("signatures (property-based)", () => {
  it("whatever the secret and body, a receiver verifies what was signed", () => {
    fc.assert(
      fc.property(secrets, bodies, ids, (secret, body, id) => {
        const headers = deliveryHeaders({
          deliveryId: id,
          event: "deal.updated",
          body,
          timestamp: now(),
          secrets: [secret],
        });
        expect(verifies(secret, body, headers)).toBe(true);
      }),
      fuzz,
    );
  });

  it("a tampered body, timestamp, id or signature never verifies", () => {
    const tamper = fc.constantFrom("body", "timestamp", "id", "hex", "standard");
    fc.assert(
      fc.property(secrets, bodies, ids, tamper, fc.nat(), (secret, body, id, what, position) => {
        const headers = deliveryHeaders({
          deliveryId: id,
          event: "deal.updated",
          body,
          timestamp: now(),
          secrets: [secret],
        });
        const flip = (text: string) => {
          const i = position % text.length;
          const c = text[i] === "A" ? "B" : "A";
          return text.slice(0, i) + c + text.slice(i + 1);
        };
        let sentBody = body;
        if (what === "body") sentBody = flip(body);
        if (what === "timestamp")
          headers["webhook-timestamp"] = String(Number(headers["webhook-timestamp"]) + 1);
        if (what === "id") headers["webhook-id"] = flip(id.slice(4)).padStart(id.length, "dlv_");
        if (what === "hex")
          headers["X-Webhook-Signature"] = flip(headers["X-Webhook-Signature"] ?? "");
        if (what === "standard")
          headers["webhook-signature"] =
            `v1,${flip((headers["webhook-signature"] ?? "").slice(3))}`;
        fc.pre(sentBody !== body || what !== "body");
        expect(verifies(secret, sentBody, headers)).toBe(false);
      }),
      fuzz,
    );
  });

  it("the wrong secret never verifies", () => {
    fc.assert(
      fc.property(secrets, secrets, bodies, ids, (secret, other, body, id) => {
        fc.pre(secret !== other);
        const headers = deliveryHeaders({
          deliveryId: id,
          event: "deal.updated",
          body,
          timestamp: now(),
          secrets: [secret],
        });
        expect(verifies(other, body, headers)).toBe(false);
      }),
      fuzz,
    );
  });
});
