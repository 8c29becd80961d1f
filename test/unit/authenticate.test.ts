import { describe, expect, it } from "vitest";
import type { ApiKey } from "../../shared/domain.ts";
import { ForbiddenError, UnauthorizedError } from "../../shared/errors.ts";
import { authorize } from "../../shared/use-cases/authenticate.ts";

const key = (role: ApiKey["role"], extra: Partial<ApiKey> = {}): ApiKey => ({
  id: `key_${role}`,
  workspaceId: "acme",
  hash: "0".repeat(64),
  role,
  name: role,
  hint: "whk_acme_abcd…",
  createdAt: "2026-11-01T00:00:00.000Z",
  ...extra,
});

describe("authorize", () => {
  it("lets a key through when its role is allowed, and hands it back", () => {
    const admin = key("admin");
    expect(authorize(admin, ["admin"])).toBe(admin);
    const ingest = key("ingest");
    expect(authorize(ingest, ["ingest", "admin"])).toBe(ingest);
  });

  it("refuses an unknown key and a revoked one with 401", () => {
    for (const missing of [undefined, key("admin", { revokedAt: "2026-11-02T00:00:00.000Z" })]) {
      expect(() => authorize(missing, ["admin", "ingest"])).toThrow(UnauthorizedError);
      expect(() => authorize(missing, ["admin", "ingest"])).toThrow("The API key is not valid.");
    }
  });

  it("refuses an ingest key on an admin route with 403, saying what an ingest key may do", () => {
    expect(() => authorize(key("ingest"), ["admin"])).toThrow(ForbiddenError);
    expect(() => authorize(key("ingest"), ["admin"])).toThrow(
      "An ingest key may only post events (POST /v1/events) and read the egress IPs; use an admin key.",
    );
  });

  it("refuses any other role with 403 naming the roles the route needs", () => {
    expect(() => authorize(key("admin"), ["ingest"])).toThrow(ForbiddenError);
    expect(() => authorize(key("admin"), ["ingest"])).toThrow(
      "This route needs one of these roles: ingest.",
    );
    expect(() => authorize(key("admin"), [])).toThrow("This route needs one of these roles: .");
    expect(() => authorize(key("admin"), ["ingest", "ingest"])).toThrow(
      "This route needs one of these roles: ingest, ingest.",
    );
  });
});
