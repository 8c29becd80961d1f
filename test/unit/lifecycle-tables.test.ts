import { readFileSync } from "node:fs";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { RunContext } from "../../shared/lifecycle.ts";

/**
 * The lifecycle's module-level tables (the moves, the terminal states, the cancel texts) and the
 * local retry schedule, each judged on a module loaded inside the test. Their values are fixed
 * when the module loads, and other suites load it once, before any test: a test that loads it
 * afresh is the one that sees a change to them (and the one mutation testing runs for them).
 */
beforeEach(() => {
  vi.resetModules();
});

const lifecycle = () => import("../../shared/lifecycle.ts");

const ctx: RunContext = {
  workspaceId: "acme",
  deliveryId: "dlv_01JDQ7Z8R0000000000000000",
  eventId: "evt-1",
  event: "contact.created",
  subscriptionId: "sub_01JDQ7Z8R0000000000000000",
  generation: 0,
  now: Date.parse("2026-11-26T10:00:00.000Z"),
};

describe("the lifecycle's tables, as loaded", () => {
  it("draw docs/lifecycle.md: every move, its states and its conditions (regenerate with `npm run docs:lifecycle`)", async () => {
    const { mermaid, movesTable } = await lifecycle();
    const doc = readFileSync(new URL("../../docs/lifecycle.md", import.meta.url), "utf8");
    expect(doc).toContain(`\`\`\`mermaid\n${mermaid()}\n\`\`\``);
    expect(doc).toContain(movesTable());
  });

  it("end a delivery in exactly three states: succeeded, failed, canceled", async () => {
    const { isTerminal } = await lifecycle();
    expect(isTerminal("succeeded")).toBe(true);
    expect(isTerminal("failed")).toBe(true);
    expect(isTerminal("canceled")).toBe(true);
    expect(isTerminal("pending")).toBe(false);
    expect(isTerminal("retrying")).toBe(false);
  });

  it("say why a run was canceled, in the words an operator reads", async () => {
    const { withCancel } = await lifecycle();
    expect(withCancel(undefined, ctx, "subscription_deleted").lastError).toBe(
      "The subscription was deleted; nothing was sent.",
    );
    expect(withCancel(undefined, ctx, "subscription_disabled").lastError).toBe(
      "The subscription is disabled; nothing was sent.",
    );
    expect(withCancel(undefined, ctx, "event_expired").lastError).toBe(
      "The event is past its retention period; nothing was sent.",
    );
  });
});

describe("the retry schedules, as loaded", () => {
  it("retry locally five times over 15 seconds (README: `npm start`)", async () => {
    const { LOCAL_SCHEDULE } = await import("../../shared/retry.ts");
    expect(LOCAL_SCHEDULE).toEqual([0, 1, 2, 4, 8]);
    expect(LOCAL_SCHEDULE.reduce((sum, s) => sum + s, 0)).toBe(15);
  });
});
