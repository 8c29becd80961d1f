import { afterEach, describe, expect, it, vi } from "vitest";
import { deliverBatchMetrics } from "../../shared/delivery-metrics.ts";
import { apiMetricsLine } from "../../shared/http/api-metrics.ts";
import { addLogContext, jsonLogger, withLogContext } from "../../shared/log.ts";
import { emfLine, METRICS_NAMESPACE } from "../../shared/metrics.ts";
import type { BatchResult } from "../../shared/use-cases/deliver-batch.ts";

/** The metrics an EMF document declares, with their units, and its dimensions. */
function declared(line: string) {
  const doc = JSON.parse(line);
  const [directive] = doc._aws.CloudWatchMetrics;
  expect(directive.Namespace).toBe(METRICS_NAMESPACE);
  const units = Object.fromEntries(
    directive.Metrics.map((m: { Name: string; Unit: string }) => [m.Name, m.Unit]),
  );
  // Every declared metric has its value in the document, and every dimension too.
  for (const name of Object.keys(units)) expect(doc[name], name).toBeDefined();
  for (const dimension of directive.Dimensions[0]) expect(typeof doc[dimension]).toBe("string");
  return { doc, units, dimensions: directive.Dimensions[0] as string[] };
}

describe("EMF documents", () => {
  it("carry arrays of samples (at most 100) as distributions", () => {
    const { doc } = declared(
      emfLine(
        { Function: "x" },
        { Latency: { value: Array.from({ length: 150 }, (_, i) => i), unit: "Milliseconds" } },
      ),
    );
    expect(doc.Latency).toHaveLength(100);
  });

  it("one per deliver batch: outcomes, failures by class, latency and attempts per delivery, by function and lane only", () => {
    const result: BatchResult = {
      failures: ["m2"],
      dispositions: new Map([
        ["m1", { kind: "done", reason: "succeeded" }],
        ["m2", { kind: "later", seconds: 5, reason: "retry" }],
        ["m3", { kind: "done", reason: "dead-lettered" }],
        ["m4", { kind: "later", seconds: 2, reason: "deferred" }],
        ["m5", { kind: "done", reason: "canceled" }],
      ]),
      attempts: [
        { ok: true, durationMs: 80.4, number: 1, end: "succeeded" },
        { ok: false, errorClass: "http_status", durationMs: 120, number: 2, end: "retrying" },
        { ok: false, errorClass: "timeout", durationMs: 15_000, number: 8, end: "failed" },
      ],
    };
    const { doc, units, dimensions } = declared(deliverBatchMetrics(result, "slow", 1_000));
    expect(dimensions).toEqual(["Function", "Lane"]);
    expect(doc).toMatchObject({
      Function: "deliver",
      Lane: "slow",
      Messages: 5,
      Attempts: 3,
      Succeeded: 1,
      AttemptsFailed: 2,
      Retried: 1,
      FailedForGood: 1,
      DeadLettered: 1,
      Deferred: 1,
      Canceled: 1,
      AttemptsFailed_http_status: 1,
      AttemptsFailed_timeout: 1,
      AttemptLatency: [80, 120, 15_000],
      AttemptsPerDelivery: [1, 8],
    });
    expect(units).toMatchObject({ AttemptLatency: "Milliseconds", Attempts: "Count" });
    expect(doc._aws.Timestamp).toBe(1_000);
  });

  it("from the API: events accepted and refused with their fan-out, redriven dead letters", () => {
    const single = declared(apiMetricsLine("POST /v1/events", 202, { deliveries: 4 }) ?? "").doc;
    expect(single).toMatchObject({ Function: "api", EventsAccepted: 1, FanOut: [4] });
    expect(declared(apiMetricsLine("POST /v1/events", 422, {}) ?? "").doc).toMatchObject({
      EventsRefused: 1,
    });
    const batch = declared(
      apiMetricsLine("POST /v1/events/batch", 200, {
        results: [{ status: 202, deliveries: 2 }, { status: 422 }, { status: 202, deliveries: 0 }],
      }) ?? "",
    ).doc;
    expect(batch).toMatchObject({ EventsAccepted: 2, EventsRefused: 1, FanOut: [2, 0] });
    expect(
      declared(apiMetricsLine("POST /v1/dlq/redrive", 200, { moved: 7 }) ?? "").doc,
    ).toMatchObject({
      DeadLettersRedriven: 7,
    });
    expect(apiMetricsLine("GET /v1/deliveries", 200, {})).toBeUndefined();
  });
});

describe("log lines", () => {
  afterEach(() => vi.restoreAllMocks());

  it("carry the invocation's context, added to as ids become known, and nothing outside it", () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: string) => lines.push(line));
    withLogContext({ function: "api", requestId: "r-1" }, () => {
      jsonLogger.info("one");
      addLogContext({ workspaceId: "acme" });
      withLogContext({ deliveryId: "dlv_1" }, () => jsonLogger.info("two", { extra: 1 }));
      jsonLogger.info("three");
    });
    jsonLogger.info("outside");
    const parsed = lines.map((line) => JSON.parse(line));
    expect(parsed[0]).toMatchObject({
      level: "info",
      message: "one",
      function: "api",
      requestId: "r-1",
    });
    expect(parsed[0].workspaceId).toBeUndefined();
    expect(parsed[1]).toMatchObject({ workspaceId: "acme", deliveryId: "dlv_1", extra: 1 });
    expect(parsed[2]).toMatchObject({ workspaceId: "acme" });
    expect(parsed[2].deliveryId).toBeUndefined();
    expect(parsed[3].function).toBeUndefined();
  });
});
