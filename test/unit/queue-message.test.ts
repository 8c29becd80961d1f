import { describe, expect, it } from "vitest";
import type { DeliveryMessage } from "../../shared/domain.ts";
import { decodeMessage, encodeMessage } from "../../shared/queue/delivery-queue.ts";

const message: DeliveryMessage = {
  v: 1,
  w: "acme",
  d: "dlv_01JDX6A2B3C4D5E6F7G8H9JKMNM8Q9RST0VWXYZ0AB",
  e: "crm-evt-1",
  n: "contact.created",
  s: "sub_01JDX5Z7K3M8Q9RST0VWXYZ0AB",
  g: 0,
};
const decode = (patch: Record<string, unknown>) =>
  decodeMessage(JSON.stringify({ ...message, ...patch }));

describe("queue messages", () => {
  it("round-trip, with the optional fields, and unknown fields dropped", () => {
    expect(decodeMessage(encodeMessage(message))).toEqual(message);
    const full = { ...message, g: 3, r: 1 as const, o: "msg-1" };
    expect(decodeMessage(encodeMessage(full))).toEqual(full);
    expect(decode({ extra: "x" })).toEqual(message);
  });

  it("refuse what is not one of ours, field by field", () => {
    for (const body of ["nope", "null", "[]", "{}", "42", '"text"']) {
      expect(decodeMessage(body), body).toBeUndefined();
    }
    const wrong: Array<Record<string, unknown>> = [
      { v: 2 },
      { v: "1" },
      { w: "" },
      { w: 7 },
      { d: "x".repeat(201) },
      { e: null },
      { s: undefined },
      { n: "contact.merged" },
      { n: 1 },
      { g: -1 },
      { g: 1.5 },
      { g: "0" },
      { r: 2 },
      { r: true },
      { o: "" },
      { o: 5 },
    ];
    for (const patch of wrong) expect(decode(patch), JSON.stringify(patch)).toBeUndefined();
    expect(decode({ d: "x".repeat(200) })).toBeDefined();
  });
});
