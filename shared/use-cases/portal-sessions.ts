import type { PortalSession } from "../domain.ts";
import { ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from "../errors.ts";
import { newPortalSessionId } from "../ids.ts";
import { generatePortalToken, hashPortalToken, parsePortalBearer } from "../portal-tokens.ts";
import type { PortalSessionStore, WorkspaceStore } from "../ports.ts";
import { CAPABILITIES, type Capability } from "../roles.ts";
import { PORTAL_SESSION_DEFAULT_TTL, type PortalSessionCreate } from "../schemas.ts";

/**
 * Portal sessions: what an admin hands a browser instead of a key (the web console, embedded in
 * the CRM). A session carries capabilities (`read`, `manage`, `resend`) and, optionally, the
 * subscriptions it is limited to. The route table says which capability each route needs
 * (`capability`); this module checks the session against it and keeps a scoped session to its
 * subscriptions on every route that names or lists them.
 */

/** Mints a session; the token is returned this once and only its hash is stored. */
export async function createPortalSession(
  workspaceId: string,
  input: PortalSessionCreate,
  deps: { sessions: PortalSessionStore; workspaces: Pick<WorkspaceStore, "listSubscriptions"> },
  now = Date.now(),
): Promise<{ session: PortalSession; token: string }> {
  if (input.subscriptionIds) {
    const known = new Set((await deps.workspaces.listSubscriptions(workspaceId)).map((s) => s.id));
    const errors = input.subscriptionIds.flatMap((id, index) =>
      known.has(id)
        ? []
        : [
            {
              field: `subscriptionIds.${index}`,
              detail: `No subscription '${id}' in this workspace.`,
            },
          ],
    );
    if (errors.length > 0) throw new ValidationError(errors);
  }
  const token = generatePortalToken(workspaceId);
  const start = Math.floor(now / 1000) * 1000;
  const session: PortalSession = {
    id: newPortalSessionId(),
    workspaceId,
    hash: hashPortalToken(token),
    // In the catalog's order (read, manage, resend), however they were asked for.
    capabilities: [...input.capabilities].sort(
      (a, b) => CAPABILITIES.indexOf(a) - CAPABILITIES.indexOf(b),
    ),
    subscriptionIds: input.subscriptionIds ? [...input.subscriptionIds] : null,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(
      start + (input.ttlSeconds ?? PORTAL_SESSION_DEFAULT_TTL) * 1000,
    ).toISOString(),
  };
  await deps.sessions.put(session);
  return { session, token };
}

/**
 * The caller's portal session, when `Authorization` carries a session token (`whp_…`), checked
 * against the route: 401 for an unknown or expired token, 403 for a route it may not use.
 * Undefined for any other bearer (API keys are checked as they always were).
 */
export async function authenticatePortalSession(
  authorization: string | undefined,
  needs: Capability | undefined,
  sessions: PortalSessionStore,
  now = Date.now(),
): Promise<PortalSession | undefined> {
  if (!/^\s*Bearer +whp_/i.test(authorization ?? "")) return undefined;
  const parsed = parsePortalBearer(authorization);
  if (!parsed) throw new UnauthorizedError("The portal session token is not valid.");
  const session = await sessions.get(parsed.workspaceId, parsed.hash);
  if (!session) {
    throw new UnauthorizedError("The portal session token is not valid.");
  }
  if (Date.parse(session.expiresAt) <= now) {
    throw new UnauthorizedError(
      "The portal session has expired; ask the application that opened the console for a new one.",
    );
  }
  if (needs === undefined) {
    throw new ForbiddenError("A portal session may not use this route; it needs an admin key.");
  }
  if (!session.capabilities.includes(needs)) {
    throw new ForbiddenError(
      `This portal session (${session.capabilities.join(", ")}) may not do this: it needs the '${needs}' capability.`,
    );
  }
  return session;
}

/** What a caller may see: the whole workspace (a key), or a session's subscriptions. */
export class Scope {
  /** Undefined: every subscription of the workspace. */
  readonly subscriptionIds: ReadonlySet<string> | undefined;

  constructor(subscriptionIds: readonly string[] | null | undefined) {
    this.subscriptionIds = subscriptionIds ? new Set(subscriptionIds) : undefined;
  }

  static of(session: PortalSession | undefined): Scope {
    return new Scope(session?.subscriptionIds);
  }

  get limited(): boolean {
    return this.subscriptionIds !== undefined;
  }

  includes(subscriptionId: string): boolean {
    return this.subscriptionIds === undefined || this.subscriptionIds.has(subscriptionId);
  }

  /**
   * A subscription named by path: outside the scope it answers as one that does not exist
   * (as another workspace's would), so a scoped session learns nothing of the others.
   */
  visible(subscriptionId: string, what = "subscription"): void {
    if (!this.includes(subscriptionId)) {
      throw new NotFoundError(`No ${what} '${subscriptionId}' in this workspace.`);
    }
  }

  /**
   * The subscription filter of a list or a bulk resend: the one asked for (refused with 403
   * outside the scope), or else the whole scope.
   */
  filter(requested: string | undefined): string | readonly string[] | undefined {
    if (requested !== undefined) {
      if (!this.includes(requested)) {
        throw new ForbiddenError(
          `This portal session is limited to some subscriptions; '${requested}' is not one of them.`,
        );
      }
      return requested;
    }
    return this.subscriptionIds ? [...this.subscriptionIds] : undefined;
  }

  /** Refuses what would reach past the scope (a new subscription is in no session's scope). */
  refuseWhenLimited(what: string): void {
    if (this.limited) {
      throw new ForbiddenError(
        `This portal session is limited to some subscriptions, so it may not ${what}.`,
      );
    }
  }
}
