import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { webhooks } from "../helpers/cli.ts";
import { startServer, type TestServer } from "../helpers/http-server.ts";

/**
 * The `webhooks` CLI keeps secrets and keys off its command line (which `ps` and shell history
 * see) and refuses to send a key over plain http to another machine. A stand-in API records
 * exactly what the CLI sends.
 */
let api: TestServer;
let dir: string;
let env: Record<string, string>;
const SECRET = "correct horse battery staple 42";
const KEY = `whk_demo_${"a".repeat(64)}`;

beforeAll(async () => {
  api = await startServer((_request, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id: "sub_1", data: [] }));
  });
  dir = await mkdtemp(join(tmpdir(), "webhooks-cli-"));
  env = { WEBHOOKS_API_URL: api.url, WEBHOOKS_API_KEY: KEY };
});
afterAll(async () => {
  await api?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  api.requests.length = 0;
});

const file = async (name: string, contents: string) => {
  const path = join(dir, name);
  await writeFile(path, contents, { mode: 0o600 });
  return path;
};
/** The one request the CLI sent, its body parsed. */
const sent = () => {
  expect(api.requests).toHaveLength(1);
  const [request] = api.requests;
  if (!request) throw new Error("nothing was sent");
  return { ...request, json: JSON.parse(request.body.toString("utf8") || "{}") };
};
const create = ["subscriptions", "create", "--url", "https://hooks.example.com/in"];
const events = ["--events", "contact.created", "--json"];

describe("secrets from a file or standard input", () => {
  it("subscriptions create --secret-file: the file's secret, without its final newline", async () => {
    const path = await file("secret", `${SECRET}\n`);
    const run = await webhooks([...create, ...events, "--secret-file", path], env);
    expect(run.code, run.stderr).toBe(0);
    expect(sent()).toMatchObject({ method: "POST", url: "/v1/subscriptions" });
    expect(sent().json.secret).toBe(SECRET);
  });

  it("subscriptions create --secret -: the secret from standard input", async () => {
    const run = await webhooks([...create, ...events, "--secret", "-"], env, `${SECRET}\r\n`);
    expect(run.code, run.stderr).toBe(0);
    expect(sent().json.secret).toBe(SECRET);
  });

  it("subscriptions update and rotate-secret read it the same ways", async () => {
    const path = await file("update", SECRET);
    const update = await webhooks(
      ["subscriptions", "update", "sub_1", "--secret-file", path, "--json"],
      env,
    );
    expect(update.code, update.stderr).toBe(0);
    expect(sent()).toMatchObject({ method: "PATCH", url: "/v1/subscriptions/sub_1" });
    expect(sent().json).toEqual({ secret: SECRET });

    api.requests.length = 0;
    const rotate = await webhooks(
      ["subscriptions", "rotate-secret", "sub_1", "--secret", "-", "--json"],
      env,
      `${SECRET}\n`,
    );
    expect(rotate.code, rotate.stderr).toBe(0);
    expect(sent().url).toBe("/v1/subscriptions/sub_1/rotate-secret");
    expect(sent().json.secret).toBe(SECRET);

    api.requests.length = 0;
    const rotateFile = await webhooks(
      ["subscriptions", "rotate-secret", "sub_1", "--secret-file", path, "--json"],
      env,
    );
    expect(rotateFile.code, rotateFile.stderr).toBe(0);
    expect(sent().json.secret).toBe(SECRET);
  });

  it("refuses an empty secret, a missing file, and two sources at once, sending nothing", async () => {
    const empty = await file("empty", "\n");
    const runs = {
      "no secret in": await webhooks([...create, ...events, "--secret-file", empty], env),
      "from standard input": await webhooks([...create, ...events, "--secret", "-"], env, ""),
      [join(dir, "absent")]: await webhooks(
        [...create, ...events, "--secret-file", join(dir, "absent")],
        env,
      ),
      "cannot be used with": await webhooks(
        [...create, ...events, "--secret", SECRET, "--secret-file", empty],
        env,
      ),
    };
    for (const [says, run] of Object.entries(runs)) {
      expect(run.code, says).toBe(1);
      expect(run.stderr).toContain(says);
    }
    expect(api.requests).toHaveLength(0);
  });
});

describe("the API key from a file", () => {
  it("--key-file: the file's key, ahead of WEBHOOKS_API_KEY", async () => {
    const other = `whk_demo_${"b".repeat(64)}`;
    const path = await file("key", `${other}\n`);
    const run = await webhooks(["--key-file", path, "subscriptions", "list", "--json"], env);
    expect(run.code, run.stderr).toBe(0);
    expect(sent().headers.authorization).toBe(`Bearer ${other}`);
  });

  it("WEBHOOKS_API_KEY keeps working; --key and --key-file together, or a missing file, fail", async () => {
    expect((await webhooks(["subscriptions", "list", "--json"], env)).code).toBe(0);
    expect(sent().headers.authorization).toBe(`Bearer ${KEY}`);
    api.requests.length = 0;
    const path = await file("key2", KEY);
    const both = await webhooks(["--key", KEY, "--key-file", path, "subscriptions", "list"], env);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain("--key-file");
    const missing = join(dir, "no-such-key");
    const absent = await webhooks(["--key-file", missing, "subscriptions", "list"], env);
    expect(absent.code).toBe(1);
    expect(absent.stderr).toContain(missing);
    const empty = await webhooks(
      ["--key-file", await file("key-empty", ""), "subscriptions", "list"],
      env,
    );
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain("no key in");
    expect(api.requests).toHaveLength(0);
  });
});

describe("--api-url", () => {
  it.each([
    "http://api.example.com",
    "http://10.0.0.5:3000",
    "http://192.168.1.20",
    "ftp://api.example.com",
  ])("refuses %s (not https, not this machine), from the flag or the environment", async (url) => {
    for (const run of [
      await webhooks(["--api-url", url, "subscriptions", "list"], env),
      await webhooks(["subscriptions", "list"], { ...env, WEBHOOKS_API_URL: url }),
    ]) {
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("must use https");
      expect(run.stderr).not.toContain("Cannot reach");
    }
  });

  it("takes plain http to this machine, and https anywhere", async () => {
    for (const url of [api.url, `http://localhost:${api.port}`]) {
      const run = await webhooks(["--api-url", url, "subscriptions", "list", "--json"], env);
      expect(run.code, run.stderr).toBe(0);
    }
    expect(api.requests).toHaveLength(2);
    const remote = await webhooks(
      ["--api-url", "https://127.0.0.1:9", "subscriptions", "list"],
      env,
    );
    expect(remote.code).toBe(1);
    expect(remote.stderr).toContain("Cannot reach the API");
  });
});
