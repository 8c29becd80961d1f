import { describe, expect, it } from "vitest";
import { EVENT_NAMES, EVENT_TYPES, isEventName } from "../../shared/catalog.ts";

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
