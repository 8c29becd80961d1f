import { beforeEach, describe, expect, it } from "vitest";
import type { PortalSession, Subscription } from "../../shared/domain.ts";
import { AppError } from "../../shared/errors.ts";
import { problemBody } from "../../shared/http/problem.ts";
import { ID_PATTERNS } from "../../shared/ids.ts";
import { hashPortalToken } from "../../shared/portal-tokens.ts";
import type { PortalSessionStore } from "../../shared/ports.ts";
import {
  authenticatePortalSession,
  createPortalSession,
  Scope,
} from "../../shared/use-cases/portal-sessions.ts";
import { FakeWorkspaceStore } from "../helpers/fakes.ts";

const SUB_A = "sub_01JTESTSUB0000000000000001";
const SUB_B = "sub_01JTESTSUB0000000000000002";
const SUB_C = "sub_01JTESTSUB0000000000000003";
/** Not on a whole second: sessions expire on one. */
const T0 = Date.parse("2026-11-30T10:00:00.750Z");

/** Sessions by workspace and token hash, as the DynamoDB store keeps them. */
class MemorySessions implements PortalSessionStore {
  sessions: PortalSession[] = [];
  async put(session: PortalSession) {
    this.sessions.push(structuredClone(session));
  }
  async get(workspaceId: string, hash: string) {
    const found = this.sessions.find((s) => s.workspaceId === workspaceId && s.hash === hash);
    return found && structuredClone(found);
  }
  async revoke(workspaceId: string, id: string) {
    const before = this.sessions.length;
    this.sessions = this.sessions.filter((s) => s.workspaceId !== workspaceId || s.id !== id);
    return this.sessions.length < before;
  }
}

let sessions: MemorySessions;
let workspaces: FakeWorkspaceStore;

async function subscription(id: string, workspaceId = "acme") {
  const subscription: Subscription = {
    id,
    workspaceId,
    url: "https://hooks.example.com/in",
    events: ["deal.updated"],
    enabled: true,
    description: "",
    secret: null,
    previousSecrets: [],
    createdAt: "2026-11-01T00:00:00.000Z",
    updatedAt: "2026-11-01T00:00:00.000Z",
  };
  await workspaces.createSubscription(subscription);
}

const create = (input: Parameters<typeof createPortalSession>[1], workspaceId = "acme") =>
  createPortalSession(workspaceId, input, { sessions, workspaces }, T0);

/** The problem document an API user gets for what `run` throws. */
async function problemOf(run: () => unknown) {
  let error: unknown;
  try {
    await run();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(AppError);
  return { ...problemBody(error as AppError), headers: (error as AppError).headers };
}

beforeEach(() => {
  sessions = new MemorySessions();
  workspaces = new FakeWorkspaceStore();
});

describe("creating a portal session", () => {
  it("stores only the token's hash, with its capabilities in order, for an hour by default", async () => {
    const { session, token } = await create({ capabilities: ["resend", "read", "manage"] });
    expect(token).toMatch(/^whp_acme_[0-9a-f]{64}$/);
    expect(session).toEqual({
      id: expect.stringMatching(ID_PATTERNS.portalSession),
      workspaceId: "acme",
      hash: hashPortalToken(token),
      capabilities: ["read", "manage", "resend"],
      subscriptionIds: null,
      createdAt: "2026-11-30T10:00:00.750Z",
      // From the whole second it was made in.
      expiresAt: "2026-11-30T11:00:00.000Z",
    });
    expect(sessions.sessions).toEqual([session]);
    expect(JSON.stringify(sessions.sessions)).not.toContain(token.slice(-64));
  });

  it("orders the capabilities read, manage, resend whatever order they came in", async () => {
    for (const capabilities of [
      ["manage", "read"],
      ["read", "resend"],
      ["resend", "manage", "read"],
      ["read", "manage", "resend"],
      ["manage", "resend", "read"],
    ] as const) {
      const { session } = await create({ capabilities: [...capabilities] });
      expect(session.capabilities).toEqual(
        ["read", "manage", "resend"].filter((c) => (capabilities as readonly string[]).includes(c)),
      );
    }
  });

  it("lives as long as asked", async () => {
    const { session } = await create({ capabilities: ["read"], ttlSeconds: 60 });
    expect(session.expiresAt).toBe("2026-11-30T10:01:00.000Z");
  });

  it("may be limited to some of the workspace's subscriptions", async () => {
    await subscription(SUB_A);
    await subscription(SUB_B);
    const { session } = await create({ capabilities: ["read"], subscriptionIds: [SUB_B, SUB_A] });
    expect(session.subscriptionIds).toEqual([SUB_B, SUB_A]);
    expect(sessions.sessions[0]?.subscriptionIds).toEqual([SUB_B, SUB_A]);
  });

  it("refuses subscriptions the workspace does not have, naming each, and stores nothing", async () => {
    await subscription(SUB_A);
    await subscription(SUB_C, "other");
    expect(
      await problemOf(() =>
        create({ capabilities: ["read"], subscriptionIds: [SUB_A, SUB_B, SUB_C] }),
      ),
    ).toEqual({
      type: "/problems/validation-error",
      title: "The request is not valid",
      status: 422,
      detail: `subscriptionIds.1: No subscription '${SUB_B}' in this workspace. (and 1 more)`,
      errors: [
        { field: "subscriptionIds.1", detail: `No subscription '${SUB_B}' in this workspace.` },
        { field: "subscriptionIds.2", detail: `No subscription '${SUB_C}' in this workspace.` },
      ],
      headers: {},
    });
    expect(sessions.sessions).toEqual([]);
  });
});

describe("authenticating a portal session", () => {
  let token: string;
  let session: PortalSession;
  beforeEach(async () => {
    ({ token, session } = await create({ capabilities: ["read", "resend"], ttlSeconds: 60 }));
  });
  const authenticate = (authorization: string | undefined, needs = "read" as const, now = T0) =>
    authenticatePortalSession(authorization, needs, sessions, now);

  it("finds the session of a session token, however the bearer is spaced or cased", async () => {
    for (const authorization of [
      `Bearer ${token}`,
      `bearer   ${token}`,
      `  BEARER ${token}`,
      `\tBearer ${token} `,
    ]) {
      expect(await authenticate(authorization)).toEqual(session);
    }
    expect(await authenticatePortalSession(`Bearer ${token}`, "resend", sessions, T0)).toEqual(
      session,
    );
  });

  it("leaves any other authorization to the API key check", async () => {
    for (const authorization of [
      undefined,
      "",
      "Bearer whk_acme_0123456789abcdef",
      `Basic ${token}`,
      `Bearer${token}`,
      `XBearer ${token}`,
      `Bearer x${token}`,
      `Bearer whp`,
    ]) {
      expect(await authenticate(authorization)).toBeUndefined();
    }
  });

  const invalid = {
    type: "/problems/unauthorized",
    title: "Authentication required",
    status: 401,
    detail: "The portal session token is not valid.",
    headers: { "www-authenticate": 'Bearer realm="webhooks"' },
  };

  it("answers 401 for a malformed session token", async () => {
    for (const authorization of [
      "Bearer whp_",
      `Bearer ${token}0`,
      `Bearer ${token.toUpperCase().replace("WHP_ACME", "whp_acme")}`,
      `Bearer ${token} extra`,
    ]) {
      expect(await problemOf(() => authenticate(authorization))).toEqual(invalid);
    }
  });

  it("answers 401 for a token it never issued, or issued for another workspace", async () => {
    const unknown = `whp_acme_${"0".repeat(64)}`;
    expect(await problemOf(() => authenticate(`Bearer ${unknown}`))).toEqual(invalid);
    const moved = token.replace("whp_acme_", "whp_other_");
    expect(await problemOf(() => authenticate(`Bearer ${moved}`))).toEqual(invalid);
  });

  it("answers 401 once the session has expired, to the millisecond", async () => {
    const expiresAt = Date.parse(session.expiresAt);
    expect(await authenticate(`Bearer ${token}`, "read", expiresAt - 1)).toEqual(session);
    for (const now of [expiresAt, expiresAt + 1]) {
      expect(await problemOf(() => authenticate(`Bearer ${token}`, "read", now))).toEqual({
        ...invalid,
        detail:
          "The portal session has expired; ask the application that opened the console for a new one.",
      });
    }
  });

  it("answers 403 on a route only a key may use, or one needing a capability it lacks", async () => {
    expect(
      await problemOf(() => authenticatePortalSession(`Bearer ${token}`, undefined, sessions, T0)),
    ).toEqual({
      type: "/problems/forbidden",
      title: "This key may not do that",
      status: 403,
      detail: "A portal session may not use this route; it needs an admin key.",
      headers: {},
    });
    expect(
      await problemOf(() => authenticatePortalSession(`Bearer ${token}`, "manage", sessions, T0)),
    ).toEqual({
      type: "/problems/forbidden",
      title: "This key may not do that",
      status: 403,
      detail:
        "This portal session (read, resend) may not do this: it needs the 'manage' capability.",
      headers: {},
    });
  });
});

describe("a caller's scope", () => {
  const limited = new Scope([SUB_A, SUB_B]);

  it("of a key or an unlimited session is the whole workspace", async () => {
    const { session } = await create({ capabilities: ["read"] });
    for (const scope of [Scope.of(undefined), Scope.of(session), new Scope(null)]) {
      expect(scope.limited).toBe(false);
      expect(scope.includes(SUB_C)).toBe(true);
      expect(() => scope.visible(SUB_C)).not.toThrow();
      expect(scope.filter(undefined)).toBeUndefined();
      expect(scope.filter(SUB_C)).toBe(SUB_C);
      expect(() => scope.refuseWhenLimited("create subscriptions")).not.toThrow();
    }
  });

  it("of a limited session is its subscriptions", async () => {
    await subscription(SUB_A);
    const { session } = await create({ capabilities: ["read"], subscriptionIds: [SUB_A] });
    const scope = Scope.of(session);
    expect(scope.limited).toBe(true);
    expect(scope.includes(SUB_A)).toBe(true);
    expect(scope.includes(SUB_B)).toBe(false);
    expect(scope.includes(SUB_C)).toBe(false);
  });

  it("answers a subscription outside it as one that does not exist", async () => {
    expect(() => limited.visible(SUB_A)).not.toThrow();
    expect(await problemOf(() => limited.visible(SUB_C))).toEqual({
      type: "/problems/not-found",
      title: "Not found",
      status: 404,
      detail: `No subscription '${SUB_C}' in this workspace.`,
      headers: {},
    });
  });

  it("filters lists by the subscription asked for, refusing one outside it, or else by all of it", async () => {
    expect(limited.filter(SUB_B)).toBe(SUB_B);
    expect(limited.filter(undefined)).toEqual([SUB_A, SUB_B]);
    expect(await problemOf(() => limited.filter(SUB_C))).toEqual({
      type: "/problems/forbidden",
      title: "This key may not do that",
      status: 403,
      detail: `This portal session is limited to some subscriptions; '${SUB_C}' is not one of them.`,
      headers: {},
    });
  });

  it("refuses what would reach past it", async () => {
    expect(await problemOf(() => limited.refuseWhenLimited("create subscriptions"))).toEqual({
      type: "/problems/forbidden",
      title: "This key may not do that",
      status: 403,
      detail:
        "This portal session is limited to some subscriptions, so it may not create subscriptions.",
      headers: {},
    });
  });
});
