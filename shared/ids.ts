import { encodeTime, monotonicFactory } from "ulid";

/**
 * Identifiers. Everything we mint is a ULID (time-ordered, 26 Crockford base32 characters)
 * behind a type prefix, so ids sort by creation time and say what they are.
 */
const nextUlid = monotonicFactory();

export const newUlid = (now = Date.now()): string => nextUlid(now);
export const newSubscriptionId = (): string => `sub_${newUlid()}`;
export const newEventId = (): string => `evt_${newUlid()}`;
export const newKeyId = (): string => `key_${newUlid()}`;
export const newPortalSessionId = (): string => `ses_${newUlid()}`;

/**
 * A delivery is one event for one subscription. Its id is derived, not random, so a retried
 * ingest or a duplicated queue message always names the same delivery (receivers dedupe on it
 * via `webhook-id`). It starts with the event's sequence ULID, so deliveries list newest-first
 * by key alone, and ends with the random part of the subscription's ULID (80 bits), so the
 * deliveries of one event never collide.
 */
export function deliveryIdFor(eventSeq: string, subscriptionId: string): string {
  return `dlv_${eventSeq}${subscriptionId.slice(-16)}`;
}

/** The smallest or largest delivery id whose event was accepted at `time` (for time windows). */
export function deliveryIdBound(time: number, edge: "min" | "max"): string {
  return `dlv_${encodeTime(Math.max(0, Math.floor(time)), 10)}${(edge === "min" ? "0" : "Z").repeat(32)}`;
}

export const ID_PATTERNS = {
  subscription: /^sub_[0-9A-HJKMNP-TV-Z]{26}$/,
  delivery: /^dlv_[0-9A-HJKMNP-TV-Z]{42}$/,
  key: /^key_[0-9A-HJKMNP-TV-Z]{26}$/,
  portalSession: /^ses_[0-9A-HJKMNP-TV-Z]{26}$/,
} as const;
