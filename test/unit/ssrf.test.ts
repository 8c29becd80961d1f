import { describe, expect, it, vi } from "vitest";
import { checkAddress, checkUrl, isLoopback, parseCidrs, parsePorts } from "../../shared/ssrf.ts";

const production = { allowLoopbackHttp: false };
const local = { allowLoopbackHttp: true };

/**
 * shared/ssrf.ts loaded anew inside the running test. The tables these tests judge (the cloud
 * metadata addresses, the refusal labels) are module-level constants, built when the module
 * loads; a mutation run of the `shared` scope judges such a constant only by the tests that
 * load the module while they run (README "Mutation testing"), so these tests load it themselves.
 */
async function loadedSsrf() {
  vi.resetModules();
  return import("../../shared/ssrf.ts");
}

describe("checkAddress", () => {
  it.each([
    "127.0.0.1",
    "127.255.0.1",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "100.100.100.200",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "198.18.0.1",
    "240.0.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "169.254.170.23",
    "fd00:ec2::23",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",
    "2002:a00:1::",
    "2001:db8::1",
    "2001::1",
    "100::1",
  ])("refuses %s", (address) => {
    expect(checkAddress(address, production).ok).toBe(false);
  });

  it.each(["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])(
    "allows the public address %s",
    (address) => {
      expect(checkAddress(address, production)).toEqual({ ok: true });
    },
  );

  it("allows loopback only when the local stack says so, and nothing else private", () => {
    expect(checkAddress("127.0.0.1", local).ok).toBe(true);
    expect(checkAddress("::1", local).ok).toBe(true);
    expect(checkAddress("::ffff:127.0.0.1", local).ok).toBe(true);
    expect(checkAddress("10.0.0.1", local).ok).toBe(false);
    expect(checkAddress("169.254.169.254", local).ok).toBe(false);
  });

  it("says why", () => {
    expect(checkAddress("169.254.169.254", production)).toEqual({
      ok: false,
      reason: "169.254.169.254 is a cloud metadata address",
    });
  });
});

describe("checkUrl", () => {
  it.each([
    ["http://example.com/", "must use https"],
    ["ftp://example.com/", "must use https"],
    ["https://user:pass@example.com/", "credentials"],
    ["https://127.0.0.1/", "loopback"],
    ["https://2130706433/", "127.0.0.1 is a loopback"],
    ["https://0x7f.1/", "127.0.0.1 is a loopback"],
    ["https://0177.0.0.1/", "127.0.0.1 is a loopback"],
    ["https://[::ffff:127.0.0.1]/", "loopback"],
    ["https://[::ffff:a9fe:a9fe]/", "169.254.169.254"],
    ["https://169.254.169.254/latest/meta-data/", "cloud metadata"],
    ["https://169.254.1.1/", "link-local"],
    ["https://localhost/", "loopback"],
    ["https://api.localhost/", "loopback"],
    ["https://localhost./", "loopback"],
    ["https://foo.localhost./", "loopback"],
    ["https://Foo.LOCALHOST./hook", "loopback"],
    ["https://localhost../", "loopback"],
    ["https://localhost%2E/", "loopback"],
    ["https://localhost\u3002/", "loopback"],
    ["https://[fd00:ec2::23]/", "fd00:ec2::23 is a cloud metadata address"],
    ["https://169.254.170.23/", "169.254.170.23 is a cloud metadata address"],
    ["not a url", "not a valid absolute URL"],
  ])("refuses %s in production (%s)", (url, why) => {
    const verdict = checkUrl(url, production);
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.reason).toContain(why);
  });

  it("accepts https to a public name or address", () => {
    expect(checkUrl("https://hooks.example.com/crm", production)).toEqual({ ok: true });
    expect(checkUrl("https://93.184.215.14/", production)).toEqual({ ok: true });
  });

  it("the local stack allows plain http to loopback only", () => {
    expect(checkUrl("http://127.0.0.1:4000/hooks", local)).toEqual({ ok: true });
    expect(checkUrl("http://localhost:4000/", local)).toEqual({ ok: true });
    expect(checkUrl("http://localhost.:4000/", local)).toEqual({ ok: true });
    expect(checkUrl("http://[::1]:4000/", local)).toEqual({ ok: true });
    expect(checkUrl("http://example.com/", local).ok).toBe(false);
    expect(checkUrl("http://10.0.0.1/", local).ok).toBe(false);
    expect(checkUrl("http://169.254.169.254/", local).ok).toBe(false);
    expect(checkUrl("https://10.0.0.1/", local).ok).toBe(false);
  });
});

describe("destination ports", () => {
  it.each([22, 25, 6379, 80, 8443, 65535])(
    "refuses https on port %i unless allowed, naming the port and the setting",
    (port) => {
      for (const host of ["hooks.example.com", "93.184.215.14"]) {
        const verdict = checkUrl(`https://${host}:${port}/`, production);
        expect(verdict).toEqual({
          ok: false,
          reason: `the URL's port ${port} is not allowed (only 443 and the ports in WEBHOOKS_ALLOWED_PORTS are)`,
        });
      }
      expect(
        checkUrl(`https://hooks.example.com:${port}/`, { ...production, allowedPorts: [port] }),
      ).toEqual({ ok: true });
    },
  );

  it("allows 443, written or implied", () => {
    expect(checkUrl("https://hooks.example.com:443/", production)).toEqual({ ok: true });
    expect(checkUrl("https://hooks.example.com/", { ...production, allowedPorts: [8443] })).toEqual(
      { ok: true },
    );
  });

  it("the local stack allows any port on loopback over plain http, and only there", () => {
    for (const url of ["http://127.0.0.1:22/", "http://localhost:6379/", "http://[::1]:1/"]) {
      expect(checkUrl(url, local)).toEqual({ ok: true });
    }
    expect(checkUrl("https://127.0.0.1:8443/", local).ok).toBe(false);
    expect(checkUrl("https://hooks.example.com:22/", local).ok).toBe(false);
  });

  it("a refused host is named before the port", () => {
    expect(checkUrl("https://10.0.0.1:22/", production)).toMatchObject({
      reason: "the URL's host 10.0.0.1 is a private address",
    });
  });

  it("parses the allowed ports, naming a bad entry", () => {
    expect(parsePorts("")).toEqual([]);
    expect(parsePorts("8443, 9443")).toEqual([8443, 9443]);
    expect(parsePorts(" 8443,,9443 ,")).toEqual([8443, 9443]);
    for (const bad of ["0", "65536", "http", "-1", "84.3", "0x50"]) {
      expect(() => parsePorts(`8443,${bad}`)).toThrow(`'${bad}' is not a port number (1-65535)`);
    }
  });
});

describe("allow-listed ranges (private deployments)", () => {
  const policy = {
    allowLoopbackHttp: false,
    allowedCidrs: parseCidrs("10.20.0.0/16, fd12:3456::/32"),
  };

  it("allows private addresses inside them, and only those", () => {
    expect(checkAddress("10.20.3.4", policy).ok).toBe(true);
    expect(checkAddress("::ffff:10.20.3.4", policy).ok).toBe(true);
    expect(checkAddress("fd12:3456::1", policy).ok).toBe(true);
    expect(checkAddress("10.21.0.1", policy).ok).toBe(false);
    expect(checkAddress("127.0.0.1", policy).ok).toBe(false);
    expect(checkUrl("https://10.20.0.9/hook", policy)).toEqual({ ok: true });
    expect(checkUrl("http://10.20.0.9/hook", policy).ok).toBe(false);
  });

  it("never allows cloud metadata, even when a range covers it", async () => {
    const { checkAddress, parseCidrs } = await loadedSsrf();
    const wide = {
      allowLoopbackHttp: true,
      allowedCidrs: parseCidrs("169.254.0.0/16,100.64.0.0/10,fd00::/8"),
    };
    for (const address of [
      "169.254.169.254",
      "169.254.170.2",
      "169.254.170.23",
      "fd00:ec2::254",
      "fd00:ec2::23",
      "100.100.100.200",
    ]) {
      expect(checkAddress(address, wide)).toEqual({
        ok: false,
        reason: `${address} is a cloud metadata address`,
      });
    }
    expect(checkAddress("169.254.1.1", wide).ok).toBe(true);
  });

  it("refuses a malformed range, naming it", () => {
    expect(() => parseCidrs("10.0.0.0/8, banana")).toThrow("'banana' is not a CIDR range");
  });

  it("skips empty entries (an empty setting, a trailing or doubled comma)", () => {
    expect(parseCidrs("")).toEqual([]);
    expect(
      parseCidrs(" 10.0.0.0/8,, fd00::/8 ,").map(([address, bits]) => `${address}/${bits}`),
    ).toEqual(["10.0.0.0/8", "fd00::/8"]);
  });
});

describe("what a refusal says, and the edges of each rule", () => {
  it.each([
    ["0.0.0.0", "0.0.0.0 is an unspecified address"],
    ["::", ":: is an unspecified address"],
    ["255.255.255.255", "255.255.255.255 is a broadcast address"],
    ["224.0.0.1", "224.0.0.1 is a multicast address"],
    ["100.64.0.1", "100.64.0.1 is a carrier-grade NAT address"],
    ["10.0.0.1", "10.0.0.1 is a private address"],
    ["fc00::1", "fc00::1 is a unique-local (private) address"],
    ["240.0.0.1", "240.0.0.1 is a reserved address"],
    ["2001:db8::1", "2001:db8::1 is a reserved address"],
    ["fe80::1", "fe80::1 is a link-local address"],
    ["::1", "::1 is a loopback address"],
    ["64:ff9b::a00:1", "64:ff9b::a00:1 is a special-purpose address"],
    ["2002:a00:1::", "2002:a00:1:: is a special-purpose address"],
    ["100::1", "100::1 is a special-purpose address"],
  ])("%s: %s", async (address, reason) => {
    const { checkAddress } = await loadedSsrf();
    expect(checkAddress(address, production)).toEqual({ ok: false, reason });
  });

  it("reads a bracketed IPv6 literal and drops a zone id, and nothing else", () => {
    expect(checkAddress("[::1]", local)).toEqual({ ok: true });
    expect(checkAddress("[2606:4700:4700::1111]", production)).toEqual({ ok: true });
    expect(checkAddress("fe80::1%eth0", production)).toEqual({
      ok: false,
      reason: "fe80::1 is a link-local address",
    });
    const zoned = { ...production, allowedCidrs: parseCidrs("fe80::/10") };
    expect(checkAddress("fe80::1%eth0", zoned)).toEqual({ ok: true });
    // Brackets only at the ends; anything else is not an address at all.
    for (const garbage of ["nope", "1.2.3.]4", "1.2.[3.4", "8.8.[8.8]"]) {
      expect(checkAddress(garbage, production)).toEqual({
        ok: false,
        reason: `'${garbage}' is not an IP address`,
      });
    }
  });

  it("refuses credentials of any kind: a user, a password, or both", () => {
    for (const url of [
      "https://user@example.com/",
      "https://:pass@example.com/",
      "https://user:pass@example.com/",
    ]) {
      expect(checkUrl(url, production)).toEqual({
        ok: false,
        reason: "the URL must not contain credentials; use a signing secret instead",
      });
    }
  });

  it("plain http to anything but loopback says what the local stack allows", () => {
    for (const url of ["http://example.com/", "http://8.8.8.8/", "http://10.0.0.1/"]) {
      expect(checkUrl(url, local)).toEqual({
        ok: false,
        reason:
          "the URL must use https (plain http is allowed only to loopback in the local stack)",
      });
      expect(checkUrl(url, production)).toEqual({ ok: false, reason: "the URL must use https" });
    }
  });

  it("parses ports at both ends of the range, and refuses just past them", () => {
    expect(parsePorts("1,65535")).toEqual([1, 65_535]);
    expect(() => parsePorts("0")).toThrow("'0' is not a port number (1-65535)");
    expect(() => parsePorts("65536")).toThrow("'65536' is not a port number (1-65535)");
  });
});

describe("isLoopback", () => {
  it.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["::1", true],
    ["[::1]", true],
    ["::ffff:127.0.0.1", true],
    ["8.8.8.8", false],
    ["10.0.0.1", false],
    ["::", false],
    ["localhost", false],
    ["not an address", false],
    ["::[1", false],
    ["::1]x", false],
    ["::]1", false],
    ["127.0.0.]1", false],
  ])("%s: %s", (address, loopback) => {
    expect(isLoopback(address)).toBe(loopback);
  });
});
