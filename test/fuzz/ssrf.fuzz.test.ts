import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { describe, expect, it } from "vitest";
import { checkAddress, checkUrl, parseCidrs } from "../../shared/ssrf.ts";
import {
  ALLOWED_PORT,
  COVERING_CIDRS,
  localhostName,
  METADATA_ADDRESSES,
  metadataUrl,
  otherPort,
} from "./destinations.ts";
import { fuzz } from "./settings.ts";

const production = { allowLoopbackHttp: false };
const local = { allowLoopbackHttp: true };

/** The spec, written out independently of shared/ssrf.ts: every IPv4 range that is refused. */
const REFUSED_V4 = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "192.31.196.0/24",
  "192.52.193.0/24",
  "192.88.99.0/24",
  "192.168.0.0/16",
  "192.175.48.0/24",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/4",
  "240.0.0.0/4",
].map((cidr) => {
  const [base, bits] = cidr.split("/") as [string, string];
  const start = toInt(base);
  return { start, end: start + 2 ** (32 - Number(bits)) - 1 };
});
const REFUSED_V6 = [
  "::/128",
  "::1/128",
  "fe80::/10",
  "fc00::/7",
  "ff00::/8",
  "2001::/23",
  "2001:db8::/32",
  "2002::/16",
  "64:ff9b::/96",
  "100::/64",
  "5f00::/16",
  "3fff::/20",
];

function toInt(dotted: string): number {
  return dotted.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}
const octets = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const refusedV4 = (n: number) => REFUSED_V4.some((r) => n >= r.start && n <= r.end);

/** Ways to write one IPv4 address in a URL host that WHATWG parsers accept. */
function spellings(n: number): string[] {
  const [a, b, c, d] = octets(n) as [number, number, number, number];
  return [
    `${a}.${b}.${c}.${d}`,
    String(n),
    `0x${n.toString(16)}`,
    `0${a.toString(8)}.0${b.toString(8)}.0${c.toString(8)}.0${d.toString(8)}`,
    `0x${a.toString(16)}.0x${b.toString(16)}.0x${c.toString(16)}.0x${d.toString(16)}`,
    `${a}.${(b << 16) | (c << 8) | d}`,
    `${a}.${b}.${(c << 8) | d}`,
    `[::ffff:${a}.${b}.${c}.${d}]`,
    `[::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}]`,
  ];
}

const anyV4 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const inRefusedV4 = fc
  .tuple(fc.constantFrom(...REFUSED_V4), fc.double({ min: 0, max: 1, noNaN: true }))
  .map(([r, t]) => Math.min(r.end, r.start + Math.floor(t * (r.end - r.start + 1))));

describe("the destination guard (property-based)", () => {
  it("refuses exactly the IPv4 addresses the spec refuses, across the whole address space", () => {
    fc.assert(
      fc.property(fc.oneof(anyV4, inRefusedV4), (n) => {
        const dotted = octets(n).join(".");
        expect(checkAddress(dotted, production).ok).toBe(!refusedV4(n));
      }),
      fuzz,
    );
  });

  it("gives every spelling of an address in a URL the same verdict", () => {
    fc.assert(
      fc.property(fc.oneof(anyV4, inRefusedV4), (n) => {
        const verdicts = spellings(n).map(
          (host) => checkUrl(`https://${host}/hook`, production).ok,
        );
        expect(new Set(verdicts)).toEqual(new Set([!refusedV4(n)]));
      }),
      fuzz,
    );
  });

  it("refuses every address in the refused IPv6 ranges, and IPv4-mapped private ones", () => {
    const inRange = fc
      .tuple(fc.constantFrom(...REFUSED_V6), fc.uint8Array({ minLength: 16, maxLength: 16 }))
      .map(([cidr, random]) => {
        const [base, bits] = ipaddr.parseCIDR(cidr) as [ipaddr.IPv6, number];
        const bytes = base.toByteArray().map((byte, i) => {
          const keep = Math.max(0, Math.min(8, bits - i * 8));
          const mask = (0xff << (8 - keep)) & 0xff;
          return (byte & mask) | ((random[i] ?? 0) & ~mask & 0xff);
        });
        return ipaddr.fromByteArray(bytes).toString();
      });
    fc.assert(
      fc.property(inRange, (address) => {
        expect(checkAddress(address, production).ok).toBe(false);
        expect(checkUrl(`https://[${address}]/`, production).ok).toBe(false);
      }),
      fuzz,
    );
  });

  it("the local stack allows loopback (any spelling) over http, and nothing else that is refused", () => {
    fc.assert(
      fc.property(inRefusedV4, fc.nat(8), (n, which) => {
        const host = spellings(n)[which] ?? String(n);
        const loopback = n >>> 24 === 127;
        expect(checkUrl(`http://${host}:4000/`, local).ok).toBe(loopback);
      }),
      fuzz,
    );
  });

  it("allows https on 443 and the allowed ports only, to any public address or name", () => {
    const publicV4 = anyV4.filter((n) => !refusedV4(n));
    const host = fc.oneof(
      publicV4.map((n) => octets(n).join(".")),
      fc.domain().filter((name) => !/(^|\.)localhost$/.test(name)),
    );
    const port = fc.oneof(
      otherPort.map(({ port, written }) => ({ port, written, allowed: false })),
      fc.constantFrom(
        { port: 443, written: "443", allowed: true },
        { port: 443, written: "", allowed: true },
        { port: ALLOWED_PORT, written: String(ALLOWED_PORT), allowed: true },
      ),
    );
    const policy = { ...production, allowedPorts: [ALLOWED_PORT] };
    fc.assert(
      fc.property(host, port, (h, { port, written, allowed }) => {
        const verdict = checkUrl(`https://${h}${written ? `:${written}` : ""}/hook`, policy);
        expect(verdict.ok).toBe(allowed);
        if (!verdict.ok) expect(verdict.reason).toContain(`port ${port} is not allowed`);
      }),
      fuzz,
    );
  });

  it("the local stack allows any port over plain http to loopback, and no other port over https", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0x7f000000, max: 0x7fffffff }), otherPort, (n, { written }) => {
        const host = octets(n).join(".");
        expect(checkUrl(`http://${host}:${written}/`, local).ok).toBe(true);
        expect(checkUrl(`https://${host}:${written}/`, local).ok).toBe(false);
      }),
      fuzz,
    );
  });

  it("refuses localhost names in any spelling (case, labels, trailing dots) in production", () => {
    fc.assert(
      fc.property(localhostName, (name) => {
        const verdict = checkUrl(`https://${name}/hook`, production);
        expect(verdict.ok, name).toBe(false);
        expect(!verdict.ok && verdict.reason).toContain("loopback");
        expect(checkUrl(`http://${name}:4000/`, local).ok, name).toBe(true);
      }),
      fuzz,
    );
  });

  it("refuses cloud metadata addresses under any allow-list that covers them", () => {
    const policy = fc.record({
      allowLoopbackHttp: fc.boolean(),
      allowedCidrs: fc.constantFrom(...COVERING_CIDRS).map(parseCidrs),
      allowedPorts: fc.constant([ALLOWED_PORT]),
    });
    fc.assert(
      fc.property(metadataUrl, policy, (url, p) => {
        const verdict = checkUrl(url, p);
        expect(verdict.ok, url).toBe(false);
        expect(!verdict.ok && verdict.reason).toContain("cloud metadata");
      }),
      fuzz,
    );
    for (const address of METADATA_ADDRESSES) {
      expect(
        checkAddress(address, { ...production, allowedCidrs: parseCidrs("::/0,0.0.0.0/0") }),
      ).toMatchObject({ ok: false });
    }
  });
});
