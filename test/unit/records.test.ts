import { describe, expect, it } from "vitest";
import type { Attempt, Delivery } from "../../shared/domain.ts";
import {
  FAILURE_COUNT_INTERVAL_MS,
  healthAfter,
  RECENT_FAILURES_TO_DISABLE,
} from "../../shared/health.ts";
import { capResponseHeaders, clip, keepBody } from "../../shared/records.ts";
import { DYNAMO_ITEM_LIMIT, itemSize } from "../../shared/store/item-size.ts";
import {
  deliveryToItem,
  fitToBudget,
  itemToDelivery,
  RECORD_BUDGET,
} from "../../shared/store/items.ts";
import { key, shardOf } from "../../shared/store/table.ts";

describe("itemSize: bytes as DynamoDB counts them", () => {
  it("counts strings in UTF-8 bytes, names included", () => {
    expect(itemSize({ a: "abc" })).toBe(1 + 3);
    expect(itemSize({ a: "€" })).toBe(1 + 3);
    // A body of invalid bytes decoded as text is U+FFFD each: three bytes on AWS, one unit in dynalite.
    expect(itemSize({ body: "\uFFFD".repeat(10) })).toBe(4 + 30);
    expect(itemSize({ emoji: "😀" })).toBe(5 + 4);
  });

  it("counts numbers by significant digits, booleans and nulls as one byte, lists and maps with overhead", () => {
    expect(itemSize({ n: 12345 })).toBe(1 + 4);
    expect(itemSize({ n: 1_000_000 })).toBe(1 + 2);
    expect(itemSize({ b: true, z: null })).toBe(2 + 2);
    expect(itemSize({ l: ["ab", "c"] })).toBe(1 + 3 + (2 + 1) + (1 + 1));
    expect(itemSize({ m: { k: "v" } })).toBe(1 + 3 + (1 + 1 + 1));
    expect(itemSize({ gone: undefined })).toBe(0);
  });
});

describe("what an attempt keeps of an answer", () => {
  it("keeps at most ~2 KB of headers, the useful ones first, each value clipped", () => {
    const headers = {
      ...Object.fromEntries(
        Array.from({ length: 190 }, (_, i) => [`x-junk-${i}`, "v".repeat(300)]),
      ),
      "retry-after": "30",
      "content-type": "text/html",
    };
    const kept = capResponseHeaders(headers);
    expect(kept.headers["content-type"]).toBe("text/html");
    expect(kept.headers["retry-after"]).toBe("30");
    const bytes = Object.entries(kept.headers).reduce(
      (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value),
      0,
    );
    expect(bytes).toBeLessThanOrEqual(2048);
    expect(Object.values(kept.headers).every((value) => value.length <= 256)).toBe(true);
    expect(kept.omitted).toBe(192 - Object.keys(kept.headers).length);
  });

  it("keeps a UTF-8 body as text, cut by bytes without splitting a character", () => {
    expect(keepBody(Buffer.from("hello"), 4096, false)).toEqual({
      body: "hello",
      truncated: false,
    });
    const euros = Buffer.from("€".repeat(10)); // 30 bytes
    const kept = keepBody(euros, 10, false);
    expect(kept).toEqual({ body: "€€€", truncated: true });
  });

  it("keeps a binary body as a base64 excerpt no longer than the limit, never expanded", () => {
    const binary = Buffer.from(Array.from({ length: 16 * 1024 }, (_, i) => (i * 37 + 0x80) % 256));
    const kept = keepBody(binary, 4096, false);
    expect(kept.encoding).toBe("base64");
    expect(kept.body.length).toBeLessThanOrEqual(4096);
    expect(Buffer.from(kept.body, "base64")).toEqual(binary.subarray(0, 3072));
    expect(kept.truncated).toBe(true);
  });

  it("clips text without leaving half a surrogate pair", () => {
    expect(clip("ab😀", 3)).toBe("ab");
    expect(clip("abc", 5)).toBe("abc");
  });
});

describe("fitToBudget: a record's history within its byte budget", () => {
  const attempt = (number: number, body: string): Attempt => ({
    number,
    generation: 0,
    startedAt: "2026-11-26T10:00:00.000Z",
    durationMs: 1,
    url: "https://x.example.com/",
    outcome: "failed",
    requestHeaders: { "webhook-id": "dlv_x" },
    statusCode: 500,
    responseBody: body,
  });
  const delivery = (attempts: Attempt[]): Delivery => ({
    id: "dlv_x",
    workspaceId: "acme",
    eventId: "evt_1",
    event: "contact.created",
    subscriptionId: "sub_1",
    status: "retrying",
    generation: 0,
    rev: attempts.length,
    runAttempts: attempts.length,
    attemptCount: attempts.length,
    attempts,
    attemptsOmitted: 0,
    createdAt: "2026-11-26T10:00:00.000Z",
    updatedAt: "2026-11-26T10:00:00.000Z",
  });

  it("leaves a small record as it is", () => {
    const small = delivery([attempt(1, "x")]);
    expect(fitToBudget(small)).toBe(small);
  });

  it("keeps the first attempt and the latest ones, and counts those left out", () => {
    const big = delivery(Array.from({ length: 40 }, (_, i) => attempt(i + 1, "€".repeat(1500))));
    const fitted = fitToBudget(big);
    expect(itemSize(deliveryToItem(fitted, 0))).toBeLessThanOrEqual(RECORD_BUDGET);
    expect(fitted.attempts[0]?.number).toBe(1);
    expect(fitted.attempts.at(-1)?.number).toBe(40);
    const kept = fitted.attempts.map((a) => a.number);
    expect(kept.slice(1)).toEqual(
      Array.from({ length: kept.length - 1 }, (_, i) => 41 - kept.length + 1 + i),
    );
    expect(fitted.attemptsOmitted).toBe(40 - fitted.attempts.length);
    expect(RECORD_BUDGET).toBeLessThan(DYNAMO_ITEM_LIMIT);
  });
});

describe("endpoint health", () => {
  const at = (iso: string) => Date.parse(iso);
  const window = 5 * 86_400_000;

  it("a success clears failing; the first failure records since when", () => {
    expect(healthAfter({}, true, at("2026-11-26T10:00:00Z"), window)).toEqual({ kind: "none" });
    expect(
      healthAfter(
        { failingSince: "2026-11-20T00:00:00.000Z" },
        true,
        at("2026-11-26T10:00:00Z"),
        window,
      ),
    ).toEqual({ kind: "healthy" });
    expect(healthAfter({}, false, at("2026-11-26T10:00:00Z"), window)).toEqual({
      kind: "failing",
      at: "2026-11-26T10:00:00.000Z",
    });
  });

  it("counts a failure at most once a minute, in a day's window", () => {
    const failing = {
      failingSince: "2026-11-26T09:00:00.000Z",
      lastFailureAt: "2026-11-26T09:59:30.000Z",
      recentFailures: 2,
      recentSince: "2026-11-26T09:00:00.000Z",
    };
    expect(healthAfter(failing, false, at("2026-11-26T10:00:00Z"), window)).toEqual({
      kind: "none",
    });
    expect(healthAfter(failing, false, at("2026-11-26T10:00:31Z"), window)).toMatchObject({
      kind: "count",
      recentFailures: 3,
      recentSince: "2026-11-26T09:00:00.000Z",
      countedBefore: new Date(at("2026-11-26T10:00:31Z") - FAILURE_COUNT_INTERVAL_MS).toISOString(),
      disable: undefined,
    });
    // A day later, the window starts again.
    expect(healthAfter(failing, false, at("2026-11-27T10:00:00Z"), window)).toMatchObject({
      recentFailures: 1,
      recentSince: "2026-11-27T10:00:00.000Z",
    });
  });

  it("disables only after failing for the whole window and repeatedly of late", () => {
    const old = {
      failingSince: "2026-11-20T00:00:00.000Z",
      lastFailureAt: "2026-11-26T09:50:00.000Z",
      recentFailures: RECENT_FAILURES_TO_DISABLE - 1,
      recentSince: "2026-11-26T09:00:00.000Z",
    };
    expect(healthAfter(old, false, at("2026-11-26T10:00:00Z"), window)).toMatchObject({
      disable: { failingSince: "2026-11-20T00:00:00.000Z" },
    });
    // Long enough, but not repeatedly: an old outage and one new failure.
    expect(
      healthAfter(
        { ...old, recentFailures: 1, recentSince: "2026-11-20T00:00:00.000Z" },
        false,
        at("2026-11-26T10:00:00Z"),
        window,
      ),
    ).toMatchObject({ disable: undefined, recentFailures: 1 });
    // Repeatedly, but not for long enough.
    expect(
      healthAfter(
        { ...old, failingSince: "2026-11-25T00:00:00.000Z" },
        false,
        at("2026-11-26T10:00:00Z"),
        window,
      ),
    ).toMatchObject({ disable: undefined });
    // Never, when auto-disable is off.
    expect(healthAfter(old, false, at("2026-11-26T10:00:00Z"), 0)).toMatchObject({
      disable: undefined,
    });
  });
});

describe("deliveryToItem: a delivery as stored", () => {
  const base: Delivery = {
    id: "dlv_item",
    workspaceId: "acme",
    eventId: "evt_1",
    event: "contact.created",
    subscriptionId: "sub_1",
    status: "retrying",
    generation: 1,
    rev: 3,
    runAttempts: 1,
    attemptCount: 2,
    attempts: [],
    attemptsOmitted: 0,
    createdAt: "2026-11-26T10:00:00.000Z",
    updatedAt: "2026-11-26T10:00:00.000Z",
  };
  const shard = shardOf("dlv_item");
  const index = (delivery: Delivery) => {
    const item = deliveryToItem(delivery, 60);
    return { dlqPk: item.dlqPk, dlqSk: item.dlqSk };
  };

  it("puts a failed delivery in its workspace's dead-letter index, a test send's never", () => {
    expect(index({ ...base, status: "failed" })).toEqual({
      dlqPk: key.deadLetters("acme", shard),
      dlqSk: "dlv_item",
    });
    expect(index({ ...base, status: "failed", test: true })).toEqual({
      dlqPk: undefined,
      dlqSk: undefined,
    });
  });

  it("puts a claim awaiting its message on the sweep's list, by claim time, and nothing else anywhere", () => {
    const claim: Delivery = {
      ...base,
      status: "pending",
      queued: false,
      claimedAt: "2026-11-26T10:00:01.000Z",
    };
    expect(index(claim)).toEqual({ dlqPk: key.sweep(shard), dlqSk: "2026-11-26T10:00:01.000Z" });
    // One that never recorded its time is abandoned: first in line, as a released claim is.
    expect(index({ ...claim, claimedAt: undefined })).toEqual({
      dlqPk: key.sweep(shard),
      dlqSk: "1970-01-01T00:00:00.000Z",
    });
    for (const delivery of [
      { ...claim, queued: true },
      base,
      { ...base, status: "succeeded" as const },
    ]) {
      expect(index(delivery)).toEqual({ dlqPk: undefined, dlqSk: undefined });
    }
  });

  it("stores no attribute for an empty count or a false flag, and reads them back as they were", () => {
    const item = deliveryToItem({ ...base, test: false }, 60);
    expect(item.attemptsOmitted).toBeUndefined();
    expect(item.test).toBeUndefined();
    expect(itemSize(item)).toBe(itemSize(deliveryToItem(base, 60)));
    expect(itemToDelivery("acme", item)).toMatchObject({ attemptsOmitted: 0 });
    const kept = deliveryToItem({ ...base, attemptsOmitted: 4, test: true }, 60);
    expect(kept).toMatchObject({ attemptsOmitted: 4, test: true });
    // Expires the retention period after its last change.
    expect(kept.expiresAt).toBe(Date.parse(base.updatedAt) / 1000 + 60);
  });
});
