import { describe, expect, it } from "vitest";
import type { NetworkErrorClass } from "../../shared/domain.ts";
import type { SendResult } from "../../shared/ports.ts";
import { attemptDraft, classify } from "../../shared/use-cases/deliver-batch.ts";
import { ok } from "../helpers/fakes.ts";

/**
 * How an answer (or its absence) is judged, and what of it an attempt keeps: what the schedule
 * does next, and what the delivery's history shows its owner.
 */
const NOW = Date.parse("2026-11-26T10:00:00.000Z");

const failure = (errorClass: NetworkErrorClass, message = "it broke"): SendResult => ({
  kind: "error",
  errorClass,
  message,
  durationMs: 7,
});

describe("classify", () => {
  it("a 2xx is a success, from 200 to 299, and nothing else is", () => {
    expect(classify(ok(200), NOW)).toEqual({ verdict: { ok: true } });
    expect(classify(ok(299), NOW)).toEqual({ verdict: { ok: true } });
    expect(classify(ok(199), NOW)).toMatchObject({
      verdict: { ok: false, retryable: true, kind: "other" },
      message: "HTTP 199 from the receiver.",
      summary: "HTTP 199",
    });
    expect(classify(ok(300), NOW).verdict.ok).toBe(false);
  });

  it("a redirect is a retryable failure that says redirects are not followed, 300 to 399", () => {
    for (const status of [300, 302, 399]) {
      expect(classify(ok(status, { location: "https://elsewhere.example.com/" }), NOW)).toEqual({
        verdict: { ok: false, retryable: true, kind: "other", retryAfterSeconds: undefined },
        errorClass: "http_status",
        message: `HTTP ${status}: redirects are not followed.`,
        summary: `HTTP ${status}`,
      });
    }
    expect(classify(ok(400), NOW).message).toBe("HTTP 400 from the receiver.");
  });

  it("429 and 503 are rate-limited and unavailable, and honour Retry-After; other statuses ignore it", () => {
    expect(classify(ok(429, { "retry-after": "42" }), NOW)).toEqual({
      verdict: { ok: false, retryable: true, kind: "rate_limited", retryAfterSeconds: 42 },
      errorClass: "http_status",
      message: "HTTP 429 from the receiver.",
      summary: "HTTP 429",
    });
    const at = new Date(NOW + 90_000).toUTCString();
    expect(classify(ok(503, { "retry-after": at }), NOW).verdict).toEqual({
      ok: false,
      retryable: true,
      kind: "unavailable",
      retryAfterSeconds: 90,
    });
    expect(classify(ok(500, { "retry-after": "42" }), NOW).verdict).toEqual({
      ok: false,
      retryable: true,
      kind: "other",
      retryAfterSeconds: undefined,
    });
  });

  it("410 Gone is a final failure of its own kind", () => {
    expect(classify(ok(410), NOW)).toEqual({
      verdict: { ok: false, retryable: false, kind: "gone" },
      errorClass: "http_status",
      message: "HTTP 410 Gone: the receiver asks for nothing more to be sent.",
      summary: "HTTP 410",
    });
  });

  it("a timeout, at connect or after, backs off as a timeout; other network errors as any failure", () => {
    expect(classify(failure("timeout", "no answer in 15 s"), NOW)).toEqual({
      verdict: { ok: false, retryable: true, kind: "timeout" },
      errorClass: "timeout",
      message: "no answer in 15 s",
      summary: "timeout: no answer in 15 s",
    });
    expect(classify(failure("connect_timeout"), NOW).verdict).toEqual({
      ok: false,
      retryable: true,
      kind: "timeout",
    });
    expect(classify(failure("connection_error"), NOW).verdict).toEqual({
      ok: false,
      retryable: true,
      kind: "other",
    });
  });

  it("only a refused destination is final among network errors", () => {
    expect(classify(failure("destination_refused"), NOW).verdict).toEqual({
      ok: false,
      retryable: false,
      kind: "other",
    });
    expect(classify(failure("dns_error"), NOW).verdict).toMatchObject({ retryable: true });
  });

  it("the one-line summary keeps 200 characters of a long error message", () => {
    const long = "x".repeat(300);
    const { summary, message } = classify(failure("tls_error", long), NOW);
    expect(summary).toBe(`tls_error: ${"x".repeat(200)}`);
    expect(message).toBe(long);
  });
});

describe("attemptDraft", () => {
  const sent = {
    startedAt: NOW,
    url: "https://hooks.example.com/in",
    headers: { "webhook-id": "dlv_1" },
    bodyLimit: 16,
  };

  it("a success keeps the answer, and no error", () => {
    const result = ok(201, { "x-seen": "1" }, "fine");
    expect(attemptDraft(result, classify(result, NOW), sent)).toEqual({
      startedAt: "2026-11-26T10:00:00.000Z",
      durationMs: 3,
      url: sent.url,
      outcome: "succeeded",
      requestHeaders: sent.headers,
      statusCode: 201,
      responseHeaders: { "x-seen": "1" },
      responseBody: "fine",
      responseBodyTruncated: false,
    });
  });

  it("a failed answer keeps the answer, its error class and message", () => {
    const result = ok(500, {}, "a body longer than the limit");
    expect(attemptDraft(result, classify(result, NOW), sent)).toEqual({
      startedAt: "2026-11-26T10:00:00.000Z",
      durationMs: 3,
      url: sent.url,
      outcome: "failed",
      requestHeaders: sent.headers,
      statusCode: 500,
      responseHeaders: {},
      responseBody: "a body longer th",
      responseBodyTruncated: true,
      errorClass: "http_status",
      errorMessage: "HTTP 500 from the receiver.",
    });
  });

  it("a binary answer is kept as base64, and says so", () => {
    const result: SendResult = {
      kind: "response",
      status: 200,
      headers: {},
      body: Uint8Array.from([0xff, 0xfe, 0xfd]),
      bodyTruncated: false,
      durationMs: 1,
    };
    expect(attemptDraft(result, classify(result, NOW), sent)).toMatchObject({
      responseBody: "//79",
      responseBodyEncoding: "base64",
      responseBodyTruncated: false,
    });
  });

  it("no answer: no response fields, the error's class and its message clipped to 500 characters", () => {
    const result = failure("network_error", "y".repeat(600));
    const draft = attemptDraft(result, classify(result, NOW), sent);
    expect(draft).toEqual({
      startedAt: "2026-11-26T10:00:00.000Z",
      durationMs: 7,
      url: sent.url,
      outcome: "failed",
      requestHeaders: sent.headers,
      errorClass: "network_error",
      errorMessage: "y".repeat(500),
    });
  });
});
