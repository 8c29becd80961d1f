import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import {
  BadRequestError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
} from "../../shared/errors.ts";
import { header, jsonBody, noBody, parseJson, query } from "../../shared/http/request.ts";
import { MAX_EVENT_BYTES } from "../../shared/schemas.ts";

const KiB = 1024;

function request(
  body: string | undefined,
  headers: Record<string, string> = { "content-type": "application/json" },
  extra: Partial<APIGatewayProxyEventV2> = {},
): APIGatewayProxyEventV2 {
  return {
    headers,
    isBase64Encoded: false,
    ...(body === undefined ? {} : { body }),
    ...extra,
  } as APIGatewayProxyEventV2;
}

const anything = z.unknown();
const blob = z.object({ blob: z.string() });

/** A JSON body of exactly `bytes` UTF-8 bytes, padded with `filler` (1, 2, 3 or 4 bytes each). */
function bodyOfBytes(bytes: number, filler = "x"): string {
  const frame = '{"blob":""}';
  const each = Buffer.byteLength(filler);
  const room = bytes - frame.length;
  const text = `{"blob":"${filler.repeat(Math.floor(room / each))}${"x".repeat(room % each)}"}`;
  expect(Buffer.byteLength(text)).toBe(bytes);
  return text;
}

describe("request bodies", () => {
  it("the limit is 256 KiB, counted in bytes", () => {
    expect(MAX_EVENT_BYTES).toBe(262_144);
  });

  it.each(["x", "é", "€", "😀"])(
    "accept exactly 256 KiB of UTF-8 bytes padded with %j, and refuse one byte more",
    (filler) => {
      const exact = bodyOfBytes(MAX_EVENT_BYTES, filler);
      expect(jsonBody(request(exact), blob).blob.length).toBeGreaterThan(0);
      const over = bodyOfBytes(MAX_EVENT_BYTES + 1, filler);
      expect(() => jsonBody(request(over), blob)).toThrow(PayloadTooLargeError);
      expect(() => jsonBody(request(over), blob)).toThrow(
        "The body is 262145 bytes; the most accepted is 262144 (256 KiB).",
      );
    },
  );

  it("refuse a multi-byte body whose characters fit the limit but whose bytes do not", () => {
    // 100,000 characters of three bytes each: 300,011 bytes, far fewer characters than 262,144.
    const body = `{"blob":"${"€".repeat(100_000)}"}`;
    expect(body.length).toBeLessThan(MAX_EVENT_BYTES);
    expect(() => jsonBody(request(body), blob)).toThrow(
      "The body is 300011 bytes; the most accepted is 262144 (256 KiB).",
    );
  });

  it("count the decoded bytes of a base64-encoded body, not its base64 text", () => {
    const exact = Buffer.from(bodyOfBytes(MAX_EVENT_BYTES, "é")).toString("base64");
    expect(exact.length).toBeGreaterThan(MAX_EVENT_BYTES);
    const parsed = jsonBody(request(exact, undefined, { isBase64Encoded: true }), blob);
    expect(Buffer.byteLength(JSON.stringify(parsed))).toBe(MAX_EVENT_BYTES);
    const over = Buffer.from(bodyOfBytes(MAX_EVENT_BYTES + 1, "é")).toString("base64");
    expect(() => jsonBody(request(over, undefined, { isBase64Encoded: true }), blob)).toThrow(
      PayloadTooLargeError,
    );
  });

  it("take a route's own limit", () => {
    const body = bodyOfBytes(2 * KiB, "€");
    expect(jsonBody(request(body), blob, 2 * KiB).blob).toContain("€");
    expect(() => jsonBody(request(body), blob, 2 * KiB - 1)).toThrow(
      "The body is 2048 bytes; the most accepted is 2047 (1.9990234375 KiB).",
    );
  });

  it.each([
    ["application/json", true],
    ["application/json; charset=utf-8", true],
    ["Application/JSON", true],
    ["application/json ;charset=utf-8", true],
    ["application/jsonp", false],
    ["text/application/json", false],
    ["text/plain", false],
    ["application/x-www-form-urlencoded", false],
  ])("with Content-Type %j: accepted %s", (type, accepted) => {
    const parse = () => jsonBody(request('{"a":1}', { "content-type": type }), anything);
    if (accepted) expect(parse()).toEqual({ a: 1 });
    else {
      expect(parse).toThrow(UnsupportedMediaTypeError);
      expect(parse).toThrow("Send the body as JSON with 'Content-Type: application/json'.");
    }
  });

  it("without a Content-Type are refused with 415", () => {
    expect(() => jsonBody(request('{"a":1}', {}), anything)).toThrow(UnsupportedMediaTypeError);
    expect(() =>
      jsonBody({ isBase64Encoded: false, body: "{}" } as APIGatewayProxyEventV2, anything),
    ).toThrow(UnsupportedMediaTypeError);
  });

  it.each([undefined, "", "   ", "\n\t"])("that are empty (%j) are a 400 that says so", (body) => {
    expect(() => jsonBody(request(body), anything)).toThrow(BadRequestError);
    expect(() => jsonBody(request(body), anything)).toThrow(
      "The request body is empty; send a JSON object.",
    );
  });

  it("that are not JSON are a 400 that says why", () => {
    expect(() => jsonBody(request("{nope"), anything)).toThrow(BadRequestError);
    expect(() => jsonBody(request("{nope"), anything)).toThrow(
      /^The body is not valid JSON: .+\.$/,
    );
    try {
      jsonBody(request("{nope"), anything);
      expect.unreachable();
    } catch (error) {
      expect((error as Error).cause).toBeInstanceOf(SyntaxError);
    }
  });

  it("of the wrong shape are a 422 per field", () => {
    expect(() => jsonBody(request('{"blob":1}'), blob)).toThrow(ValidationError);
  });
});

describe("JSON numbers", () => {
  it("keep numbers a double would change (big integers, other spellings) as written, and the others as numbers", () => {
    const parsed = parseJson('{"big":12345678901234567890,"small":42,"float":1.5,"exp":1e3}');
    expect(JSON.stringify(parsed)).toBe(
      '{"big":12345678901234567890,"small":42,"float":1.5,"exp":1e3}',
    );
    expect((parsed as { small: unknown }).small).toBe(42);
  });
});

describe("headers, queries and body-less requests", () => {
  it("header names are looked up in lowercase, as API Gateway sends them", () => {
    const event = request(undefined, { "x-thing": "yes" });
    expect(header(event, "X-Thing")).toBe("yes");
    expect(header(event, "x-other")).toBeUndefined();
    expect(header({} as APIGatewayProxyEventV2, "x-thing")).toBeUndefined();
  });

  it("queries are validated, and a missing query string is an empty one", () => {
    const schema = z.strictObject({ limit: z.optional(z.string()) });
    expect(query(request(undefined), schema)).toEqual({});
    expect(
      query(request(undefined, {}, { queryStringParameters: { limit: "5" } }), schema),
    ).toEqual({ limit: "5" });
    expect(() =>
      query(request(undefined, {}, { queryStringParameters: { other: "5" } }), schema),
    ).toThrow(ValidationError);
  });

  it("GET and DELETE refuse a body, and take an empty one", () => {
    expect(() => noBody(request("{}"))).toThrow(BadRequestError);
    expect(() => noBody(request("{}"))).toThrow("This request takes no body.");
    expect(() => noBody(request(""))).not.toThrow();
    expect(() => noBody(request(undefined))).not.toThrow();
  });
});
