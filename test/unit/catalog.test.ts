import { describe, expect, it } from "vitest";
import { EVENT_NAMES, EVENT_TYPES, isEventName } from "../../shared/catalog.ts";
import { Secret } from "../../shared/schemas.ts";

describe("event catalog", () => {
  it("has exactly the fifteen entity × action events", () => {
    expect(EVENT_NAMES).toHaveLength(15);
    expect(new Set(EVENT_NAMES).size).toBe(15);
    for (const entity of ["contact", "organization", "deal", "service", "task"]) {
      for (const action of ["created", "updated", "deleted"]) {
        expect(isEventName(`${entity}.${action}`)).toBe(true);
      }
    }
    expect(isEventName("contact.merged")).toBe(false);
    expect(EVENT_TYPES.map((type) => type.name)).toEqual(EVENT_NAMES);
  });
});

describe("a user's own secret", () => {
  it("must be printable ASCII: the Standard Webhooks libraries key raw secrets by character code", () => {
    // Found by test/fuzz/signing.fuzz.test.ts: with "¡" the two signatures disagree.
    const result = Secret.safeParse("!              ¡");
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain("printable ASCII");
    expect(Secret.safeParse("correct horse battery staple 42").success).toBe(true);
    expect(Secret.safeParse(" leading space secret value").success).toBe(false);
    expect(Secret.safeParse("short").success).toBe(false);
    expect(Secret.safeParse("whsec_dG9vc2hvcnQ=").success).toBe(false);
  });
});
