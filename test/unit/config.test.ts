import { describe, expect, it } from "vitest";
import {
  ConfigError,
  functionEnvironment,
  loadConfig,
  networkPolicy,
} from "../../shared/config.ts";

const minimal = {
  WEBHOOKS_SECRET_KEY_FILE: "/run/webhooks/secret-key",
  WEBHOOKS_TABLE_NAME: "webhooks",
  WEBHOOKS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/1/deliveries",
  WEBHOOKS_DLQ_URL: "https://sqs.us-east-1.amazonaws.com/1/deliveries-dlq",
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

describe("functionEnvironment", () => {
  it("is exactly what loadConfig reads back (the CDK app configures functions with it)", () => {
    const env = functionEnvironment({
      tableName: "webhooks-prod",
      queueUrl: minimal.WEBHOOKS_QUEUE_URL,
      deadLetterQueueUrl: minimal.WEBHOOKS_DLQ_URL,
      retrySchedule: [0, 10, 600],
      retentionDays: 14,
      kmsKeyId: "arn:aws:kms:us-east-1:1:key/k",
      allowedPorts: [8443],
    });
    expect(loadConfig(env)).toMatchObject({
      allowedPorts: [8443],
      tableName: "webhooks-prod",
      queueUrl: minimal.WEBHOOKS_QUEUE_URL,
      deadLetterQueueUrl: minimal.WEBHOOKS_DLQ_URL,
      retrySchedule: [0, 10, 600],
      retentionSeconds: 14 * 86_400,
      secretKeys: { kmsKeyId: "arn:aws:kms:us-east-1:1:key/k" },
    });
  });
});
