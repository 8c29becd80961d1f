import type { DeliveryStatus, Subscription } from "./api.ts";

/** Every delivery status, in the order people think of them. */
export const STATUSES = [
  "pending",
  "retrying",
  "succeeded",
  "failed",
  "canceled",
] as const satisfies readonly DeliveryStatus[];
// The compiler checks the list is whole: adding a status to the API fails here until it is added.
type Missing = Exclude<DeliveryStatus, (typeof STATUSES)[number]>;
export const STATUSES_COMPLETE: [Missing] extends [never] ? true : never = true;

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

export function ago(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

const REASONS: Record<string, string> = {
  exhausted: "Retries exhausted",
  refused: "Destination refused",
  stranded: "Stranded (never finished)",
  subscription_deleted: "Subscription deleted",
  subscription_disabled: "Subscription disabled",
  event_expired: "Event past retention",
  unavailable: "Storage unavailable",
};
export const reasonText = (reason: string | null): string =>
  reason ? (REASONS[reason] ?? reason) : "—";

/** A secret in an answer is in clear only the one time it was set. */
export const isClearSecret = (secret: string | null): secret is string =>
  secret !== null && !secret.includes("****");

/** The endpoint's health in a few words. */
export function health(subscription: Subscription): { text: string; tone: "ok" | "bad" | "off" } {
  if (!subscription.enabled) {
    return {
      text: subscription.disabledReason ? `Disabled: ${subscription.disabledReason}` : "Disabled",
      tone: "off",
    };
  }
  if (subscription.failingSince) {
    return { text: `Failing since ${when(subscription.failingSince)}`, tone: "bad" };
  }
  return { text: "Healthy", tone: "ok" };
}

export function shortUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.host}${parsed.pathname === "/" ? "" : parsed.pathname}`;
  } catch {
    return url;
  }
}

/** Indented JSON, numbers kept digit for digit (a 20-digit id is not rounded to a double). */
export function prettyJson(text: string | null): string {
  if (text === null) return "";
  const rawJSON = (JSON as unknown as { rawJSON?: (source: string) => unknown }).rawJSON;
  try {
    const value = JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
      rawJSON &&
      typeof value === "number" &&
      context?.source !== undefined &&
      String(value) !== context.source
        ? rawJSON(context.source)
        : value,
    );
    return JSON.stringify(value, null, 2);
  } catch {
    return text;
  }
}
