import { isIP } from "node:net";
import type { EventName } from "../catalog.ts";
import { EVENT_NAMES } from "../catalog.ts";
import type { Subscription } from "../domain.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import { newSubscriptionId } from "../ids.ts";
import type { SubscriptionCreate, SubscriptionPatch } from "../schemas.ts";
import { generateSecret } from "../signing.ts";
import { checkAddress, checkUrl, type NetworkPolicy } from "../ssrf.ts";
import type { WorkspaceStore } from "../store/workspace-store.ts";

export interface SubscriptionDeps {
  store: WorkspaceStore;
  policy: NetworkPolicy;
  maxSubscriptions: number;
  /** Resolves a host name to its addresses; failures resolve to [] (checked again at send). */
  resolveHost: (host: string) => Promise<string[]>;
  now?: () => number;
}

/** A subscription together with its secret in clear, which only create and rotate reveal. */
export interface WithSecret {
  subscription: Subscription;
  revealSecret: boolean;
}

export async function createSubscription(
  workspaceId: string,
  input: SubscriptionCreate,
  deps: SubscriptionDeps,
): Promise<WithSecret> {
  await assertDestination(input.url, deps);
  const existing = await deps.store.listSubscriptions(workspaceId);
  if (existing.length >= deps.maxSubscriptions) {
    throw new ConflictError(
      `This workspace already has ${existing.length} subscriptions, the most it may have; delete one first.`,
    );
  }
  const at = new Date((deps.now ?? Date.now)()).toISOString();
  const subscription: Subscription = {
    id: newSubscriptionId(),
    workspaceId,
    url: input.url,
    events: normalizeEvents(input.events),
    enabled: input.enabled ?? true,
    description: input.description ?? "",
    secret: input.secret ?? (input.generateSecret ? generateSecret() : null),
    createdAt: at,
    updatedAt: at,
  };
  await deps.store.createSubscription(subscription);
  return { subscription, revealSecret: subscription.secret !== null };
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

export async function updateSubscription(
  workspaceId: string,
  id: string,
  patch: SubscriptionPatch,
  deps: SubscriptionDeps,
): Promise<WithSecret> {
  const current = await getSubscription(workspaceId, id, deps.store);
  if (patch.url !== undefined && patch.url !== current.url)
    await assertDestination(patch.url, deps);
  const secretChanged = patch.secret !== undefined || patch.generateSecret === true;
  const next: Subscription = {
    ...current,
    url: patch.url ?? current.url,
    events: patch.events ? normalizeEvents(patch.events) : current.events,
    enabled: patch.enabled ?? current.enabled,
    description: patch.description ?? current.description,
    secret: patch.generateSecret
      ? generateSecret()
      : patch.secret !== undefined
        ? patch.secret
        : current.secret,
    updatedAt: laterThan(current.updatedAt, deps.now),
  };
  if (!(await deps.store.replaceSubscription(next, current.updatedAt))) {
    throw new ConflictError("The subscription changed while this update ran; read it and retry.");
  }
  return { subscription: next, revealSecret: secretChanged && next.secret !== null };
}

export async function deleteSubscription(workspaceId: string, id: string, store: WorkspaceStore) {
  if (!(await store.deleteSubscription(workspaceId, id))) {
    throw new NotFoundError(`No subscription '${id}' in this workspace.`);
  }
}

/**
 * Refuses destinations the sender would refuse anyway, with a 422 that says why: bad scheme,
 * credentials in the URL, an IP literal in a refused range, or a name resolving into one.
 * Names that do not resolve yet are accepted; every connection is checked again.
 */
async function assertDestination(url: string, deps: SubscriptionDeps): Promise<void> {
  const verdict = checkUrl(url, deps.policy);
  if (!verdict.ok) throw urlError(verdict.reason);
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  if (isIP(host) !== 0) return;
  for (const address of await deps.resolveHost(host)) {
    const check = checkAddress(address, deps.policy);
    if (!check.ok) throw urlError(`the URL's host ${host} resolves to ${check.reason}`);
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
