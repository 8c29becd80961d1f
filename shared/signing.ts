import { createHmac, createSecretKey, type KeyObject, randomBytes } from "node:crypto";
import { USER_AGENT } from "./version.ts";

/**
 * Signatures on every delivery (see README "Verifying deliveries"):
 * - `X-Webhook-Signature`: lowercase hex HMAC-SHA256 of the raw body, keyed with the UTF-8
 *   bytes of the secret exactly as the user sees it (`whsec_` prefix included).
 * - Standard Webhooks v1 (`webhook-id`, `webhook-timestamp`, `webhook-signature`): base64
 *   HMAC-SHA256 of `{id}.{timestamp}.{body}`. The key is the base64-decoded part after
 *   `whsec_` for generated secrets, the secret's UTF-8 bytes otherwise.
 */
const WHSEC = "whsec_";

/** `whsec_` + base64 of 32 random bytes (the design asks for at least 24). */
export const generateSecret = (): string => `${WHSEC}${randomBytes(32).toString("base64")}`;

export const isWhsecSecret = (secret: string): boolean => secret.startsWith(WHSEC);

function standardWebhooksKey(secret: string): Buffer {
  return isWhsecSecret(secret)
    ? Buffer.from(secret.slice(WHSEC.length), "base64")
    : Buffer.from(secret, "utf8");
}

export function hexSignature(secret: string, body: string): string {
  // A string key is its UTF-8 bytes — and on Node 24, createHmac prepares a string or a
  // KeyObject several times faster than a Buffer (see BENCHMARKS.md, delivery throughput).
  return createHmac("sha256", secret).update(body).digest("hex");
}

/** Standard Webhooks keys as KeyObjects, made once per secret while it is in use. */
const standardKeys = new Map<string, KeyObject>();
const STANDARD_KEYS_KEPT = 1000;

function standardKeyObject(secret: string): KeyObject {
  let key = standardKeys.get(secret);
  if (!key) {
    if (standardKeys.size >= STANDARD_KEYS_KEPT) {
      const oldest = standardKeys.keys().next().value;
      if (oldest !== undefined) standardKeys.delete(oldest);
    }
    const bytes = standardWebhooksKey(secret);
    key = createSecretKey(bytes);
    bytes.fill(0);
    standardKeys.set(secret, key);
  }
  return key;
}

export function standardSignature(
  secret: string,
  id: string,
  timestamp: number,
  body: string,
): string {
  const mac = createHmac("sha256", standardKeyObject(secret))
    .update(`${id}.${timestamp}.`)
    .update(body)
    .digest("base64");
  return `v1,${mac}`;
}

export interface SignInput {
  deliveryId: string;
  event: string;
  body: string;
  /** Unix seconds of this attempt. */
  timestamp: number;
  /** Newest first: the current secret, then secrets still inside a rotation grace period. */
  secrets: readonly string[];
}

/** The complete request headers of one attempt. The bytes signed are `body`, sent as is. */
export function deliveryHeaders(input: SignInput): Record<string, string> {
  const { deliveryId, event, body, timestamp, secrets } = input;
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    "User-Agent": USER_AGENT,
    "X-Webhook-Event": event,
    "X-Webhook-Delivery": deliveryId,
    "webhook-id": deliveryId,
    "webhook-timestamp": String(timestamp),
  };
  const [current] = secrets;
  if (current !== undefined) {
    headers["X-Webhook-Signature"] = hexSignature(current, body);
    headers["webhook-signature"] = secrets
      .map((secret) => standardSignature(secret, deliveryId, timestamp, body))
      .join(" ");
  }
  return headers;
}
