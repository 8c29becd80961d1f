import { isIP } from "node:net";
import { EVENT_NAMES, type EventName } from "../catalog.ts";
import type { RotatingSecret, StoredSecret, Subscription } from "../domain.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import { newSubscriptionId } from "../ids.ts";
import type { SubscriptionChanges, WorkspaceStore } from "../ports.ts";
import type { RotateSecretInput, SubscriptionCreate, SubscriptionPatch } from "../schemas.ts";
import { secretContext } from "../secrets/keyring.ts";
import type { SecretSealer } from "../secrets/secret-box.ts";
import { generateSecret, isWhsecSecret } from "../signing.ts";
import { checkAddress, checkUrl, type NetworkPolicy } from "../ssrf.ts";

export interface SubscriptionDeps {
  store: WorkspaceStore;
  secrets: SecretSealer;
  policy: NetworkPolicy;
  maxSubscriptions: number;
  /** Resolves a host name to its addresses; failures resolve to [] (checked again at send). */
  resolveHost: (host: string) => Promise<string[]>;
  now?: () => number;
}

/** A subscription, with its new secret in clear when this call set one (shown this once). */
export interface WithSecret {
  subscription: Subscription;
  secret: string | null;
  /**
   * When a disabled subscription is enabled again: the window it was failing or disabled in.
   * Its failed and canceled deliveries of that window can be replayed (README, "Endpoint health").
   */
  missed?: { from: string; to: string } | undefined;
}

/** At most this many replaced secrets keep signing at once (each adds a signature). */
const MAX_ROTATING = 3;
/** A replaced secret keeps signing for a day unless told otherwise (one literal, not a product: mutation testing cannot switch a module-level product per test). */
export const DEFAULT_GRACE_SECONDS = 86_400;

export async function createSubscription(
  workspaceId: string,
  input: SubscriptionCreate,
  deps: SubscriptionDeps,
): Promise<WithSecret> {
  await assertDestination(input.url, deps);
  const at = new Date((deps.now ?? Date.now)()).toISOString();
  const id = newSubscriptionId();
  const secret = input.secret ?? (input.generateSecret ? generateSecret() : null);
  const subscription: Subscription = {
    id,
    workspaceId,
    url: input.url,
    events: normalizeEvents(input.events),
    enabled: input.enabled ?? true,
    description: input.description ?? "",
    secret: secret === null ? null : await seal(secret, workspaceId, id, deps.secrets),
    previousSecrets: [],
    createdAt: at,
    updatedAt: at,
  };
  // The limit is checked and counted in one conditional write (shared/store/limits.ts), so
  // concurrent creates cannot pass it together.
  if ((await deps.store.createSubscription(subscription, deps.maxSubscriptions)) === "limit") {
    throw new ConflictError(
      `This workspace already has ${deps.maxSubscriptions} subscriptions, the most it may have; delete one first.`,
    );
  }
  return { subscription, secret };
}

export async function getSubscription(
  workspaceId: string,
  id: string,
  store: WorkspaceStore,
): Promise<Subscription> {
  const subscription = await store.getSubscription(workspaceId, id);
  if (!subscription) throw new NotFoundError(`No subscription '${id}' in this workspace.`);
  return subscription;
}

/** Changes apply to the next attempt. A new secret here replaces the old one at once. */
export async function updateSubscription(
  workspaceId: string,
  id: string,
  patch: SubscriptionPatch,
  deps: SubscriptionDeps,
): Promise<WithSecret> {
  const current = await getSubscription(workspaceId, id, deps.store);
  if (patch.url !== undefined && patch.url !== current.url)
    await assertDestination(patch.url, deps);
  const replaced = patch.secret !== undefined || patch.generateSecret === true;
  const secret = patch.generateSecret ? generateSecret() : (patch.secret ?? null);
  const at = new Date((deps.now ?? Date.now)()).toISOString();
  const enabling = patch.enabled === true && !current.enabled;
  const disabling = patch.enabled === false && current.enabled;
  const changes: SubscriptionChanges = {
    ...(patch.url !== undefined ? { url: patch.url } : {}),
    ...(patch.events ? { events: normalizeEvents(patch.events) } : {}),
    ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
    ...(patch.description !== undefined ? { description: patch.description } : {}),
    ...(replaced
      ? {
          secret: secret === null ? null : await seal(secret, workspaceId, id, deps.secrets),
          previousSecrets: [],
        }
      : {}),
    ...(disabling ? { disabledReason: "Disabled by an admin.", disabledAt: at } : {}),
    ...(enabling ? { disabledReason: undefined, disabledAt: undefined, resetHealth: true } : {}),
  };
  const next = await change(current, changes, deps);
  const missedFrom = current.failingSince ?? current.disabledAt;
  return {
    subscription: next,
    secret: replaced ? secret : null,
    missed: enabling && missedFrom ? { from: missedFrom, to: at } : undefined,
  };
}

/**
 * Rotates the signing secret with a grace period: the new secret signs from the next attempt
 * (and alone in `X-Webhook-Signature`); the old one keeps signing in `webhook-signature` until
 * the grace period ends, so receivers can switch at their own pace.
 */
export async function rotateSecret(
  workspaceId: string,
  id: string,
  input: RotateSecretInput,
  deps: SubscriptionDeps,
): Promise<WithSecret> {
  const current = await getSubscription(workspaceId, id, deps.store);
  const now = (deps.now ?? Date.now)();
  const secret = input.secret ?? generateSecret();
  const grace = input.gracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
  const still = current.previousSecrets.filter((p) => Date.parse(p.expiresAt) > now);
  const retiring: RotatingSecret[] =
    current.secret && grace > 0
      ? [{ ...current.secret, expiresAt: new Date(now + grace * 1000).toISOString() }]
      : [];
  const next = await change(
    current,
    {
      secret: await seal(secret, workspaceId, id, deps.secrets),
      previousSecrets: [...retiring, ...still].slice(0, MAX_ROTATING),
    },
    deps,
  );
  return { subscription: next, secret };
}

export async function deleteSubscription(workspaceId: string, id: string, store: WorkspaceStore) {
  if (!(await store.deleteSubscription(workspaceId, id))) {
    throw new NotFoundError(`No subscription '${id}' in this workspace.`);
  }
}

/** A subscription's secret as stored: sealed for that subscription alone, and its kind. */
export async function seal(
  secret: string,
  workspaceId: string,
  id: string,
  sealer: SecretSealer,
): Promise<StoredSecret> {
  return {
    sealed: await sealer.seal(secret, secretContext(workspaceId, id)),
    kind: isWhsecSecret(secret) ? "whsec" : "custom",
  };
}

/**
 * Writes only the changed fields (the endpoint's health is the deliver function's, and is
 * never written back from what this caller read), if nobody changed the subscription since.
 */
async function change(
  current: Subscription,
  changes: SubscriptionChanges,
  deps: SubscriptionDeps,
): Promise<Subscription> {
  const updatedAt = laterThan(current.updatedAt, deps.now);
  const { resetHealth, ...fields } = changes;
  const written = await deps.store.updateSubscription(
    current.workspaceId,
    current.id,
    changes,
    updatedAt,
    current.updatedAt,
  );
  if (!written) {
    throw new ConflictError("The subscription changed while this update ran; read it and retry.");
  }
  return {
    ...current,
    ...fields,
    ...(resetHealth
      ? {
          failingSince: undefined,
          lastFailureAt: undefined,
          recentFailures: undefined,
          recentSince: undefined,
        }
      : {}),
    updatedAt,
  };
}

/**
 * Refuses destinations the sender would refuse anyway, with a 422 that says why: bad scheme,
 * credentials in the URL, a port not allowed, an IP literal in a refused range, or a name
 * resolving into one. For a name the answer does not say which address it resolved to: that
 * would tell a tenant what the service's internal DNS knows. Names that do not resolve yet are
 * accepted; every connection is checked again.
 */
async function assertDestination(url: string, deps: SubscriptionDeps): Promise<void> {
  const verdict = checkUrl(url, deps.policy);
  if (!verdict.ok) throw urlError(verdict.reason);
  // An IP literal (bracketed when IPv6) was checked as an address above; names are resolved.
  const host = new URL(url).hostname;
  if (host.startsWith("[") || isIP(host) !== 0) return;
  const addresses = await deps.resolveHost(host);
  if (addresses.some((address) => !checkAddress(address, deps.policy).ok)) {
    throw urlError(`the URL's host ${host} resolves to a non-public address`);
  }
}

const urlError = (reason: string) =>
  new ValidationError([{ field: "url", detail: `${reason[0]?.toUpperCase()}${reason.slice(1)}.` }]);

/** Deduplicated, in catalog order, so equal subscriptions look equal. */
const normalizeEvents = (events: readonly EventName[]): EventName[] =>
  EVENT_NAMES.filter((name) => events.includes(name));

/** A strictly later ISO time, so the optimistic lock on updatedAt never sees a tie. */
function laterThan(previous: string, now: (() => number) | undefined): string {
  const at = Math.max((now ?? Date.now)(), Date.parse(previous) + 1);
  return new Date(at).toISOString();
}
