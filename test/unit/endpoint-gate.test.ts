import { describe, expect, it } from "vitest";
import { EndpointGate, MAX_IN_FLIGHT, PATIENCE_MS } from "../../shared/endpoint-gate.ts";

function setup() {
  let now = 0;
  const slow: string[] = [];
  const gate = new EndpointGate({
    slowAfterMs: 2000,
    onSlow: (endpoint) => slow.push(endpoint),
    now: () => now,
  });
  return {
    gate,
    slow,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("EndpointGate", () => {
  it("allows one request in flight per endpoint at first, and keeps endpoints apart", () => {
    const { gate } = setup();
    const first = gate.tryStart("a");
    expect(first).toBeDefined();
    expect(gate.tryStart("a")).toBeUndefined();
    expect(gate.tryStart("b")).toBeDefined();
    expect(gate.inFlight("a")).toBe(1);
  });

  it("doubles an endpoint's allowance with each fast answer, up to the cap", () => {
    const { gate } = setup();
    for (let i = 0; i < 20; i++) {
      const permit = gate.tryStart("a");
      if (!permit) throw new Error("no place");
      gate.finish(permit, true);
    }
    expect(gate.allowed("a")).toBe(MAX_IN_FLIGHT);
    const permits = Array.from({ length: MAX_IN_FLIGHT }, () => gate.tryStart("a"));
    expect(permits.every(Boolean)).toBe(true);
    expect(gate.tryStart("a")).toBeUndefined();
  });

  it("drops back to one after a slow answer or a timeout", () => {
    const { gate } = setup();
    for (let i = 0; i < 3; i++) {
      const permit = gate.tryStart("a");
      if (permit) gate.finish(permit, true);
    }
    expect(gate.allowed("a")).toBe(8);
    const permit = gate.tryStart("a");
    if (permit) gate.finish(permit, false);
    expect(gate.allowed("a")).toBe(1);
  });

  it("tells whether an answer was fast: within slowAfterMs", () => {
    const { gate, advance } = setup();
    const permit = gate.tryStart("a");
    if (!permit) throw new Error("no place");
    advance(1999);
    expect(gate.isFast(permit)).toBe(true);
    advance(1);
    expect(gate.isFast(permit)).toBe(false);
  });

  it("lets a message wait for a place only while the endpoint's requests are young", () => {
    const { gate, advance } = setup();
    gate.tryStart("a");
    expect(gate.worthWaiting("a")).toBe(true);
    advance(PATIENCE_MS + 1);
    expect(gate.worthWaiting("a")).toBe(false);
  });

  it("reports an endpoint slow once, when a request has been in flight slowAfterMs; a fast answer clears it", () => {
    const { gate, slow, advance } = setup();
    const permit = gate.tryStart("a");
    if (!permit) throw new Error("no place");
    advance(1999);
    gate.check();
    expect(slow).toEqual([]);
    advance(1);
    gate.check();
    gate.check();
    expect(slow).toEqual(["a"]);
    expect(gate.isSlow("a")).toBe(true);
    expect(gate.worthWaiting("a")).toBe(false);
    gate.finish(permit, false);
    const next = gate.tryStart("a");
    if (!next) throw new Error("no place");
    gate.finish(next, true);
    expect(gate.isSlow("a")).toBe(false);
  });

  it("a finish after a finish (the safety net) changes nothing when asked not to", () => {
    const { gate } = setup();
    const permit = gate.tryStart("a");
    if (!permit) throw new Error("no place");
    gate.finish(permit, true);
    expect(gate.allowed("a")).toBe(2);
    gate.finish(permit, false, true);
    expect(gate.allowed("a")).toBe(2);
  });
});
