import { createHmac } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it, vi } from "vitest";
import {
  deliveryHeaders,
  generateSecret,
  hexSignature,
  standardSignature,
} from "../../shared/signing.ts";

const body =
  '{"event":"contact.created","data":{"id":"c_1"},"timestamp":"2026-11-26T10:00:00.000Z"}';
const id = "dlv_01JABCDEFGHJKMNPQRSTVWXYZ0123456789ABCDEFGH";

/**
 * shared/signing.ts loaded anew inside the running test. The `whsec_` prefix is a module-level
 * constant, built when the module loads; a mutation run of the `shared` scope judges such a
 * constant only by the tests that load the module while they run (README "Mutation testing"),
 * so the tests of the two key formats load it themselves.
 */
async function loadedSigning() {
  vi.resetModules();
  return import("../../shared/signing.ts");
}

describe("signing", () => {
  it("X-Webhook-Signature is the lowercase hex HMAC-SHA256 of the body, keyed with the secret's UTF-8 bytes", () => {
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const expected = createHmac("sha256", Buffer.from(secret, "utf8")).update(body).digest("hex");
    expect(hexSignature(secret, body)).toBe(expected);
    expect(hexSignature(secret, body)).toMatch(/^[0-9a-f]{64}$/);
  });

  it("a generated whsec_ secret verifies with `new Webhook(secret)` unchanged", async () => {
    const { deliveryHeaders, generateSecret } = await loadedSigning();
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = deliveryHeaders({
      deliveryId: id,
      event: "contact.created",
      body,
      timestamp,
      secrets: [secret],
    });
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it("a user's own secret verifies with `new Webhook(secret, { format: 'raw' })`", async () => {
    const { deliveryHeaders } = await loadedSigning();
    const secret = "my own secret, not base64 at all";
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = deliveryHeaders({
      deliveryId: id,
      event: "contact.created",
      body,
      timestamp,
      secrets: [secret],
    });
    expect(new Webhook(secret, { format: "raw" }).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(body, headers)).toThrow();
  });

  it("agrees with the standardwebhooks package's own signer", () => {
    const secret = generateSecret();
    const when = new Date("2026-11-26T10:00:00Z");
    const timestamp = Math.floor(when.getTime() / 1000);
    expect(standardSignature(secret, id, timestamp, body)).toBe(
      new Webhook(secret).sign(id, when, body),
    );
  });

  it("carries every header of the contract, and no signature headers without a secret", () => {
    const signed = deliveryHeaders({
      deliveryId: id,
      event: "deal.updated",
      body,
      timestamp: 1_800_000_000,
      secrets: ["s".repeat(20)],
    });
    expect(signed).toMatchObject({
      "Content-Type": "application/json",
      "X-Webhook-Event": "deal.updated",
      "X-Webhook-Delivery": id,
      "webhook-id": id,
      "webhook-timestamp": "1800000000",
    });
    expect(signed["User-Agent"]).toMatch(/^Customermates-Webhooks\/\d+\.\d+\.\d+/);
    expect(signed["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);

    const unsigned = deliveryHeaders({
      deliveryId: id,
      event: "deal.updated",
      body,
      timestamp: 1,
      secrets: [],
    });
    expect(unsigned).not.toHaveProperty("X-Webhook-Signature");
    expect(unsigned).not.toHaveProperty("webhook-signature");
  });

  it("during rotation webhook-signature lists one signature per secret, newest first; X-Webhook-Signature uses the newest", () => {
    const [current, previous] = [generateSecret(), generateSecret()];
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = deliveryHeaders({
      deliveryId: id,
      event: "task.deleted",
      body,
      timestamp,
      secrets: [current, previous],
    });
    const parts = headers["webhook-signature"]?.split(" ") ?? [];
    expect(parts).toHaveLength(2);
    expect(headers["X-Webhook-Signature"]).toBe(hexSignature(current, body));
    // A receiver that still has the old secret verifies too.
    expect(new Webhook(previous).verify(body, headers)).toBeTruthy();
    expect(new Webhook(current).verify(body, headers)).toBeTruthy();
  });

  it("a tampered body does not verify", () => {
    const secret = generateSecret();
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = deliveryHeaders({
      deliveryId: id,
      event: "contact.created",
      body,
      timestamp,
      secrets: [secret],
    });
    expect(() => new Webhook(secret).verify(body.replace("c_1", "c_2"), headers)).toThrow();
  });

  it("X-Webhook-Signature signs the body alone: it replays, which is why the docs say dedupe; webhook-signature does not", () => {
    const secret = generateSecret();
    const attempt = (timestamp: number) =>
      deliveryHeaders({
        deliveryId: id,
        event: "contact.created",
        body,
        timestamp,
        secrets: [secret],
      });
    const first = attempt(1_790_000_000);
    const later = attempt(1_790_086_400);
    // The same on every attempt, a day apart: only X-Webhook-Delivery tells a repeat apart.
    expect(later["X-Webhook-Signature"]).toBe(first["X-Webhook-Signature"]);
    expect(later["X-Webhook-Delivery"]).toBe(first["X-Webhook-Delivery"]);
    // The Standard Webhooks signature binds its timestamp, so a stale one is refused.
    expect(later["webhook-signature"]).not.toBe(first["webhook-signature"]);
    expect(() => new Webhook(secret).verify(body, first)).toThrow();
  });
});
