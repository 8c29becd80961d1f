import { decodeTime } from "ulid";
import type { ApiKey, Subscription } from "../domain.ts";

/**
 * A workspace's limits (at most 50 active keys, at most `WEBHOOKS_MAX_SUBSCRIPTIONS`
 * subscriptions, never fewer than one active admin key), kept so that they hold under
 * concurrency without transactions (dynalite has none, and DynamoDB's would double the cost of
 * every write): one item per workspace, `WS#<ws>#LIMITS`, holding the ids that count — string
 * sets of the active keys, the active admin keys and the subscriptions.
 *
 * Every change to a limit is one conditional UpdateItem of that item, made *before* the write
 * it guards: a create first adds its id (`ADD keys :id`, if `size(keys) < :max`), then writes
 * the key; a revoke of an admin key first removes the id (if another admin id remains), then
 * writes `revokedAt`. Two concurrent requests therefore never both pass a limit. When the
 * second write fails, a compensating update gives the place back; when that fails too (the
 * function died, the table throttled), the item is off by one in the safe direction — a place
 * held by nothing, an admin key it does not know — and `repairLimits` brings it back to the
 * truth: it runs whenever a limit refuses, so a leak only costs a recount.
 *
 * The sets only ever err one way. A key or subscription id with nothing written behind it is
 * a create in flight, kept for `RESERVATION_LEASE_MS` (ids are ULIDs: their time says when the
 * create began; the API function times out long before), then dropped. An admin key the item
 * does not list is never added back by a repair: a revoke in flight looks exactly like that,
 * and adding it back could let the next revoke take the last admin key.
 */
export const RESERVATION_LEASE_MS = 60_000;

export interface Limits {
  /** Bumped by every change: a repair writes only if nothing changed since it read. */
  rev: number;
  keys: ReadonlySet<string>;
  admins: ReadonlySet<string>;
  subscriptions: ReadonlySet<string>;
}

export type LimitSet = "keys" | "admins" | "subscriptions";
export const LIMIT_SETS: readonly LimitSet[] = ["keys", "admins", "subscriptions"];

/** What the workspace partition holds now: the truth the limits are recounted from. */
export interface LimitsTruth {
  keys: readonly ApiKey[];
  subscriptions: readonly Subscription[];
}

/** When a `key_…` or `sub_…` id was minted (its ULID's time); 0 if it is not one. */
function mintedAt(id: string): number {
  try {
    return decodeTime(id.slice(id.indexOf("_") + 1));
  } catch {
    return 0;
  }
}

/**
 * The limits as they should be: what exists, plus the creates still in flight; for a
 * workspace that has no limits item yet (created before they were kept), what exists.
 */
export function recount(
  current: Limits | undefined,
  truth: LimitsTruth,
  now: number,
): Omit<Limits, "rev"> {
  const keyIds = new Set(truth.keys.map((k) => k.id));
  const active = truth.keys.filter((k) => !k.revokedAt);
  const activeAdmins = new Set(active.filter((k) => k.role === "admin").map((k) => k.id));
  const subscriptionIds = new Set(truth.subscriptions.map((s) => s.id));
  const inFlight = (id: string, written: ReadonlySet<string>) =>
    !written.has(id) && now - mintedAt(id) < RESERVATION_LEASE_MS;
  if (!current) {
    return {
      keys: new Set(active.map((k) => k.id)),
      admins: activeAdmins,
      subscriptions: subscriptionIds,
    };
  }
  return {
    keys: new Set([
      ...active.map((k) => k.id),
      ...[...current.keys].filter((id) => inFlight(id, keyIds)),
    ]),
    // Never added back: only what is no longer an active admin key (or a create in flight) goes.
    admins: new Set(
      [...current.admins].filter((id) => activeAdmins.has(id) || inFlight(id, keyIds)),
    ),
    subscriptions: new Set([
      ...subscriptionIds,
      ...[...current.subscriptions].filter((id) => inFlight(id, subscriptionIds)),
    ]),
  };
}

export const sameLimits = (a: Omit<Limits, "rev">, b: Omit<Limits, "rev">): boolean =>
  LIMIT_SETS.every(
    (set) => a[set].size === b[set].size && [...a[set]].every((id) => b[set].has(id)),
  );
