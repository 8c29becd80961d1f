import { describe, expect, it } from "vitest";
import {
  CRM_EVENT_NAMES,
  EVENT_NAMES,
  isEventName,
  isOperationalEvent,
  OPERATIONAL_EVENT_NAMES,
} from "../../shared/catalog.ts";
import { Secret } from "../../shared/schemas.ts";

describe("event catalog", () => {
  it("has exactly the fifteen entity × action CRM events, then the four operational ones", () => {
    expect(CRM_EVENT_NAMES).toHaveLength(15);
    expect(new Set(CRM_EVENT_NAMES).size).toBe(15);
    expect(EVENT_NAMES).toEqual([...CRM_EVENT_NAMES, ...OPERATIONAL_EVENT_NAMES]);
    expect(OPERATIONAL_EVENT_NAMES.every((name) => name.startsWith("webhook."))).toBe(true);
    expect(isOperationalEvent("webhook.delivery.exhausted")).toBe(true);
    expect(isOperationalEvent("contact.created")).toBe(false);
    for (const entity of ["contact", "organization", "deal", "service", "task"]) {
      for (const action of ["created", "updated", "deleted"]) {
        expect(isEventName(`${entity}.${action}`)).toBe(true);
      }
    }
    expect(isEventName("contact.merged")).toBe(false);
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
