import type { LookupAddress } from "node:dns";
import { afterEach, describe, expect, it } from "vitest";
import { createHttpSender, type HttpSenderOptions } from "../../shared/http/sender.ts";
import { parseCidrs } from "../../shared/ssrf.ts";
import { startServer, type TestServer } from "../helpers/http-server.ts";

const servers: TestServer[] = [];
const senders: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all([...servers.splice(0), ...senders.splice(0)].map((s) => s.close()));
});

async function server(...args: Parameters<typeof startServer>) {
  const s = await startServer(...args);
  servers.push(s);
  return s;
}

function sender(patch: Partial<HttpSenderOptions> = {}) {
  const s = createHttpSender({
    policy: { allowLoopbackHttp: true },
    connectTimeoutMs: 1000,
    requestTimeoutMs: 1000,
    responseBodyLimit: 16,
    ...patch,
  });
  senders.push(s);
  return s;
}

/** A resolver that answers every name with `address` (to play DNS tricks without DNS). */
function resolvesTo(address: string): HttpSenderOptions["lookup"] {
  return ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    const family = address.includes(":") ? 6 : 4;
    if (options.all) callback(null, [{ address, family } satisfies LookupAddress]);
    else callback(null, address, family);
  }) as unknown as HttpSenderOptions["lookup"];
}

/** A resolver that answers every name with all of `addresses`, in this order (a multi-address DNS answer). */
function resolvesToAll(...addresses: string[]): HttpSenderOptions["lookup"] {
  const answer = addresses.map(
    (address): LookupAddress => ({ address, family: address.includes(":") ? 6 : 4 }),
  );
  return ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options.all) callback(null, answer);
    else callback(null, answer[0]?.address, answer[0]?.family);
  }) as unknown as HttpSenderOptions["lookup"];
}

const body = '{"event":"contact.created","data":{},"timestamp":"2026-11-26T10:00:00Z"}';

describe("HTTP sender", () => {
  it("POSTs the exact body and headers and reads the answer", async () => {
    const target = await server((_r, res) => {
      res.writeHead(201, { "x-receiver": "yes" });
      res.end("created");
    });
    const result = await sender().send({
      url: `${target.url}/in?x=1`,
      headers: { "content-type": "application/json", "webhook-id": "dlv_1" },
      body,
    });
    expect(result).toMatchObject({
      kind: "response",
      status: 201,
      body: Buffer.from("created"),
      bodyTruncated: false,
    });
    expect(result.kind === "response" && result.headers["x-receiver"]).toBe("yes");
    const [got] = target.requests;
    expect(got?.method).toBe("POST");
    expect(got?.url).toBe("/in?x=1");
    expect(got?.body.toString()).toBe(body);
    expect(got?.headers["webhook-id"]).toBe("dlv_1");
  });

  it("never follows a redirect: a 3xx is the answer, and the target is never contacted", async () => {
    const elsewhere = await server();
    const target = await server((_r, res) => {
      res.writeHead(307, { location: `${elsewhere.url}/` });
      res.end();
    });
    const result = await sender().send({ url: target.url, headers: {}, body });
    expect(result).toMatchObject({ kind: "response", status: 307 });
    expect(elsewhere.requests).toHaveLength(0);
  });

  it("keeps only the first bytes of a large answer", async () => {
    const target = await server((_r, res) => res.end("x".repeat(100_000)));
    const result = await sender().send({ url: target.url, headers: {}, body });
    expect(result).toMatchObject({
      kind: "response",
      status: 200,
      body: Buffer.from("x".repeat(16)),
      bodyTruncated: true,
    });
  });

  it("gives up on a receiver that does not answer in time", async () => {
    const target = await server(() => {});
    const started = Date.now();
    const result = await sender({ requestTimeoutMs: 600 }).send({
      url: target.url,
      headers: {},
      body,
    });
    expect(result).toMatchObject({ kind: "error", errorClass: "timeout" });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("cuts off an answer still dripping in at the deadline", async () => {
    const drips: NodeJS.Timeout[] = [];
    const target = await server((_r, res) => {
      res.writeHead(200);
      drips.push(setInterval(() => res.write("."), 50));
    });
    const started = Date.now();
    const result = await sender({ requestTimeoutMs: 600 }).send({
      url: target.url,
      headers: {},
      body,
    });
    for (const drip of drips) clearInterval(drip);
    expect(result).toMatchObject({ kind: "error", errorClass: "timeout" });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("reads past an informational 1xx to the real answer", async () => {
    const target = await server((_r, res) => {
      res.writeProcessing();
      res.writeHead(202);
      res.end("accepted");
    });
    const result = await sender().send({ url: target.url, headers: {}, body });
    expect(result).toMatchObject({ kind: "response", status: 202, body: Buffer.from("accepted") });
  });

  it("drops a connection whose answer runs past the drain limit, and opens a new one", async () => {
    const target = await server((_r, res) => res.end("x".repeat(200_000)));
    const s = sender();
    const first = await s.send({ url: target.url, headers: {}, body });
    const second = await s.send({ url: target.url, headers: {}, body });
    expect(first).toMatchObject({ kind: "response", status: 200, bodyTruncated: true });
    expect(second).toMatchObject({ kind: "response", status: 200, bodyTruncated: true });
    expect(target.requests).toHaveLength(2);
  });

  it("classifies a refused connection", async () => {
    const target = await server();
    await target.close();
    servers.pop();
    const result = await sender().send({ url: target.url, headers: {}, body });
    expect(result).toMatchObject({ kind: "error", errorClass: "connection_error" });
  });

  it("reuses keep-alive connections instead of opening one per delivery", async () => {
    const target = await server();
    const s = sender();
    for (let i = 0; i < 20; i++) await s.send({ url: target.url, headers: {}, body });
    expect(target.requests).toHaveLength(20);
    // undici opens a second socket while the first response is being settled, then reuses both.
    expect(target.connections).toBeLessThanOrEqual(2);
  });

  describe("refuses private destinations at connect time", () => {
    const production = { policy: { allowLoopbackHttp: false } };

    it("a name that resolves to a loopback address never gets a connection", async () => {
      const target = await server();
      const s = sender({
        policy: { allowLoopbackHttp: false, allowedPorts: [target.port] },
        lookup: resolvesTo("127.0.0.1"),
      });
      const result = await s.send({
        url: `https://innocent.example:${target.port}/`,
        headers: {},
        body,
      });
      expect(result).toMatchObject({ kind: "error", errorClass: "destination_refused" });
      expect(result.kind === "error" && result.message).toBe(
        "Destination refused: innocent.example resolves to a non-public address.",
      );
      expect(target.connections).toBe(0);
    });

    // Every address of a multi-address answer is checked, not only the one connected to first.
    // The allowed addresses here are loopback ones (plain http to `*.localhost` is allowed in
    // the local stack, and the name still goes through the resolver), so that a guard that
    // checked only some of them would connect to the test server instead of the network.
    it.each([
      ["last", ["127.0.0.1", "127.0.0.2", "10.0.0.1"]],
      ["among others", ["127.0.0.1", "169.254.169.254", "127.0.0.3"]],
      ["second of two", ["127.0.0.1", "fd00:ec2::254"]],
      ["IPv4-mapped", ["127.0.0.1", "::ffff:192.168.1.1"]],
    ])(
      "one private address %s in a multi-address answer refuses the name, with no connection",
      async (_where, addresses) => {
        const target = await server();
        const result = await sender({ lookup: resolvesToAll(...addresses) }).send({
          url: `http://multi.localhost:${target.port}/`,
          headers: {},
          body,
        });
        expect(result).toMatchObject({
          kind: "error",
          errorClass: "destination_refused",
          message: "Destination refused: multi.localhost resolves to a non-public address.",
        });
        expect(target.connections).toBe(0);
        expect(target.requests).toHaveLength(0);
      },
    );

    it("a name whose every address is allowed is connected to", async () => {
      const target = await server();
      const result = await sender({
        lookup: resolvesToAll("127.0.0.1", "127.0.0.2", "127.0.0.3"),
      }).send({ url: `http://multi.localhost:${target.port}/`, headers: {}, body });
      expect(result).toMatchObject({ kind: "response", status: 200 });
      expect(target.requests).toHaveLength(1);
    });

    it("a name with no addresses at all is an error, not a connection", async () => {
      const result = await sender({ lookup: resolvesToAll() }).send({
        url: "http://nothing.localhost/",
        headers: {},
        body,
      });
      expect(result).toMatchObject({
        kind: "error",
        message: "nothing.localhost has no addresses",
      });
    });

    // Connecting to 0.0.0.0 reaches this host (127.0.0.1) on Linux, so an allow-list that
    // lets 0.0.0.0 through must still not let plain http reach it.
    it("plain http goes only to loopback, even to an allow-listed address", async () => {
      const target = await server();
      const result = await sender({
        policy: { allowLoopbackHttp: true, allowedCidrs: parseCidrs("0.0.0.0/32") },
        lookup: resolvesToAll("0.0.0.0"),
      }).send({ url: `http://zero.localhost:${target.port}/`, headers: {}, body });
      expect(result).toMatchObject({
        kind: "error",
        errorClass: "destination_refused",
        message: "Destination refused: zero.localhost resolves to a non-public address.",
      });
      expect(target.connections).toBe(0);
    });

    it("https to an allow-listed address connects (and here fails its TLS handshake)", async () => {
      const target = await server();
      const result = await sender({
        policy: {
          allowLoopbackHttp: false,
          allowedCidrs: parseCidrs("127.0.0.0/8"),
          allowedPorts: [target.port],
        },
        lookup: resolvesToAll("127.0.0.1"),
      }).send({ url: `https://tls.example:${target.port}/`, headers: {}, body });
      expect(result).toMatchObject({ kind: "error", errorClass: "tls_error" });
      expect(target.connections).toBe(1);
    });

    it("a resolver error is a DNS error, not a connection", async () => {
      const failing = ((_host: string, _options: unknown, callback: (...a: unknown[]) => void) => {
        callback(
          Object.assign(new Error("getaddrinfo ENOTFOUND gone.localhost"), { code: "ENOTFOUND" }),
        );
      }) as unknown as HttpSenderOptions["lookup"];
      const result = await sender({ lookup: failing }).send({
        url: "http://gone.localhost/",
        headers: {},
        body,
      });
      expect(result).toMatchObject({ kind: "error", errorClass: "dns_error" });
    });

    it("a name that resolves to 10.0.0.1 is refused, even in the local stack", async () => {
      const s = sender({ lookup: resolvesTo("10.0.0.1") });
      const result = await s.send({ url: "http://internal.example/", headers: {}, body });
      expect(result).toMatchObject({ kind: "error", errorClass: "destination_refused" });
    });

    it.each([
      "http://169.254.169.254/latest/meta-data/",
      "http://[::ffff:127.0.0.1]/",
      "http://2130706433/",
      "https://[fd00:ec2::254]/",
    ])("%s is refused in production without a connection", async (url) => {
      const result = await sender(production).send({ url, headers: {}, body });
      expect(result).toMatchObject({
        kind: "error",
        errorClass: "destination_refused",
        durationMs: 0,
      });
    });

    it("a port other than 443 and the allowed ones is refused without a connection", async () => {
      const lookups: string[] = [];
      const lookup = ((host: string, ...rest: unknown[]) => {
        lookups.push(host);
        return (resolvesTo("93.184.215.14") as (...a: unknown[]) => void)(host, ...rest);
      }) as unknown as HttpSenderOptions["lookup"];
      for (const port of [22, 25, 6379]) {
        const result = await sender({ ...production, lookup }).send({
          url: `https://public.example:${port}/`,
          headers: {},
          body,
        });
        expect(result).toMatchObject({
          kind: "error",
          errorClass: "destination_refused",
          message: `Destination refused: the URL's port ${port} is not allowed (only 443 and the ports in WEBHOOKS_ALLOWED_PORTS are).`,
          durationMs: 0,
        });
      }
      expect(lookups).toEqual([]);
    });

    it("plain http to a public address is refused even in the local stack", async () => {
      const result = await sender({ lookup: resolvesTo("93.184.215.14") }).send({
        url: "http://public.example/",
        headers: {},
        body,
      });
      expect(result).toMatchObject({ kind: "error", errorClass: "destination_refused" });
    });
  });
});
