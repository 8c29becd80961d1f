import { describe, expect, it } from "vitest";
import {
  ConfigError,
  functionEnvironment,
  loadConfig,
  networkPolicy,
  parseAddresses,
} from "../../shared/config.ts";

const minimal = {
  WEBHOOKS_SECRET_KEY_FILE: "/run/webhooks/secret-key",
  WEBHOOKS_TABLE_NAME: "webhooks",
  WEBHOOKS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/1/deliveries",
  WEBHOOKS_DLQ_URL: "https://sqs.us-east-1.amazonaws.com/1/deliveries-dlq",
  WEBHOOKS_STRANDED_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/1/deliveries-stranded",
  WEBHOOKS_SLOW_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/1/deliveries-slow",
};

describe("loadConfig", () => {
  it("fills documented defaults and freezes the result", () => {
    const config = loadConfig(minimal);
    expect(config).toMatchObject({
      retrySchedule: [0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000],
      allowLoopbackHttp: false,
      responseBodyLimit: 4096,
      retentionSeconds: 30 * 86_400,
      connectTimeoutMs: 5000,
      requestTimeoutMs: 15_000,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("fails at start with every wrong setting named", () => {
    const attempt = () =>
      loadConfig({
        ...minimal,
        WEBHOOKS_QUEUE_URL: "not a url",
        WEBHOOKS_RETRY_SCHEDULE: "5,10",
        WEBHOOKS_CONNECT_TIMEOUT_MS: "60000",
        WEBHOOKS_ALLOW_LOOPBACK_HTTP: "yes",
      });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(
      /WEBHOOKS_QUEUE_URL[\s\S]*WEBHOOKS_RETRY_SCHEDULE[\s\S]*WEBHOOKS_ALLOW_LOOPBACK_HTTP[\s\S]*WEBHOOKS_CONNECT_TIMEOUT_MS/,
    );
  });

  it("reads the ports deliveries may use besides 443 into the network policy", () => {
    expect(loadConfig(minimal).allowedPorts).toEqual([]);
    const config = loadConfig({ ...minimal, WEBHOOKS_ALLOWED_PORTS: "8443,9443" });
    expect(networkPolicy(config).allowedPorts).toEqual([8443, 9443]);
    expect(() => loadConfig({ ...minimal, WEBHOOKS_ALLOWED_PORTS: "8443,ssh" })).toThrow(
      /WEBHOOKS_ALLOWED_PORTS: 'ssh' is not a port number/,
    );
  });

  it("requires the table and both queues", () => {
    expect(() => loadConfig({})).toThrow(
      /WEBHOOKS_TABLE_NAME[\s\S]*WEBHOOKS_QUEUE_URL[\s\S]*WEBHOOKS_DLQ_URL/,
    );
  });

  it("needs exactly one source of secret keys: KMS or a key file", () => {
    const { WEBHOOKS_SECRET_KEY_FILE: _file, ...neither } = minimal;
    expect(() => loadConfig(neither)).toThrow("set exactly one");
    expect(() => loadConfig({ ...minimal, WEBHOOKS_KMS_KEY_ID: "alias/x" })).toThrow(
      "set exactly one",
    );
    expect(loadConfig({ ...neither, WEBHOOKS_KMS_KEY_ID: "alias/x" }).secretKeys).toEqual({
      kmsKeyId: "alias/x",
    });
  });

  it("validates the egress IPs at start: addresses, comma-separated, optional", () => {
    expect(() =>
      loadConfig({ ...minimal, WEBHOOKS_EGRESS_IPS: "203.0.113.10,2001:db8::1" }),
    ).not.toThrow();
    expect(() =>
      loadConfig({ ...minimal, WEBHOOKS_EGRESS_IPS: "203.0.113.10,10.0.0.0/8" }),
    ).toThrow(/WEBHOOKS_EGRESS_IPS: '10.0.0.0\/8' is not an IP address/);
    expect(parseAddresses(" 203.0.113.10 , 198.51.100.7,")).toEqual([
      "203.0.113.10",
      "198.51.100.7",
    ]);
    expect(parseAddresses("")).toEqual([]);
    expect(() => parseAddresses("203.0.113")).toThrow("'203.0.113' is not an IP address");
  });

  it("refuses a connect timeout longer than the whole request", () => {
    expect(() =>
      loadConfig({
        ...minimal,
        WEBHOOKS_CONNECT_TIMEOUT_MS: "5000",
        WEBHOOKS_REQUEST_TIMEOUT_MS: "1000",
      }),
    ).toThrow("must not exceed");
  });
});

describe("retention against the retry schedule", () => {
  it("refuses, at cold start, a retention shorter than the longest run plus the dead-letter window, naming both", () => {
    // The default schedule: 7 waits, each up to 12 hours with Retry-After, is 3.5 days; the
    // dead-letter queue keeps a failure 14 days: 18 days at least.
    expect(() => loadConfig({ ...minimal, WEBHOOKS_RETENTION_DAYS: "10" })).toThrow(
      /WEBHOOKS_RETENTION_DAYS: 10 days is too short: .* up to 3\.5 days .* 14 days, so keep events at least 18 days/,
    );
    expect(loadConfig({ ...minimal, WEBHOOKS_RETENTION_DAYS: "18" }).retentionSeconds).toBe(
      18 * 86_400,
    );
    // A short schedule needs less.
    expect(
      loadConfig({ ...minimal, WEBHOOKS_RETRY_SCHEDULE: "0,1,2", WEBHOOKS_RETENTION_DAYS: "16" })
        .retentionSeconds,
    ).toBe(16 * 86_400);
  });
});

describe("functionEnvironment", () => {
  it("is exactly what loadConfig reads back (the CDK app configures functions with it)", () => {
    const env = functionEnvironment({
      tableName: "webhooks-prod",
      queueUrl: minimal.WEBHOOKS_QUEUE_URL,
      deadLetterQueueUrl: minimal.WEBHOOKS_DLQ_URL,
      strandedQueueUrl: minimal.WEBHOOKS_STRANDED_QUEUE_URL,
      slowQueueUrl: minimal.WEBHOOKS_SLOW_QUEUE_URL,
      retrySchedule: [0, 10, 600],
      retentionDays: 16,
      kmsKeyId: "arn:aws:kms:us-east-1:1:key/k",
      allowedPorts: [8443],
    });
    expect(loadConfig(env)).toMatchObject({
      allowedPorts: [8443],
      tableName: "webhooks-prod",
      queueUrl: minimal.WEBHOOKS_QUEUE_URL,
      deadLetterQueueUrl: minimal.WEBHOOKS_DLQ_URL,
      retrySchedule: [0, 10, 600],
      retentionSeconds: 16 * 86_400,
      secretKeys: { kmsKeyId: "arn:aws:kms:us-east-1:1:key/k" },
    });
    expect(env).not.toHaveProperty("WEBHOOKS_EGRESS_IPS");
  });

  it("passes the egress IPs, when there are any, as one comma-separated variable", () => {
    const env = functionEnvironment({
      tableName: "webhooks-prod",
      queueUrl: minimal.WEBHOOKS_QUEUE_URL,
      deadLetterQueueUrl: minimal.WEBHOOKS_DLQ_URL,
      strandedQueueUrl: minimal.WEBHOOKS_STRANDED_QUEUE_URL,
      slowQueueUrl: minimal.WEBHOOKS_SLOW_QUEUE_URL,
      retrySchedule: [0, 10, 600],
      retentionDays: 16,
      kmsKeyId: "arn:aws:kms:us-east-1:1:key/k",
      egressIps: ["203.0.113.10", "198.51.100.7"],
    });
    expect(env.WEBHOOKS_EGRESS_IPS).toBe("203.0.113.10,198.51.100.7");
    expect(() => loadConfig(env)).not.toThrow();
  });
});
