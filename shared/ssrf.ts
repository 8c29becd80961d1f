import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * Which destinations a delivery may reach. A webhook sender is an HTTP client that strangers
 * point at URLs of their choice, so only global unicast addresses are allowed: loopback,
 * private, link-local (cloud metadata lives there), CGNAT, multicast, reserved, unspecified
 * and the IPv6 transition ranges that embed an IPv4 address are all refused. The check runs
 * on every resolved address at connect time (shared/http/sender.ts), so DNS rebinding cannot
 * get around it; subscription create/update runs the same check up front for a clear 422.
 */
export interface NetworkPolicy {
  /** Local stack only: loopback destinations allowed, and plain http to them. */
  allowLoopbackHttp: boolean;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR("2000::/3");

const LABELS: Record<string, string> = {
  unspecified: "an unspecified",
  broadcast: "a broadcast",
  multicast: "a multicast",
  linkLocal: "a link-local (cloud metadata)",
  loopback: "a loopback",
  carrierGradeNat: "a carrier-grade NAT",
  private: "a private",
  uniqueLocal: "a unique-local (private)",
  reserved: "a reserved",
};

/** Is this literal IP address a destination we may connect to? */
export function checkAddress(address: string, policy: NetworkPolicy): Verdict {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address.replace(/^\[|\]$/g, "").replace(/%.*$/, ""));
  } catch {
    return { ok: false, reason: `'${address}' is not an IP address` };
  }
  if (parsed instanceof ipaddr.IPv6 && parsed.isIPv4MappedAddress()) {
    parsed = parsed.toIPv4Address();
  }
  const range = parsed.range();
  if (range === "loopback" && policy.allowLoopbackHttp) return { ok: true };
  const globalUnicast =
    range === "unicast" &&
    (parsed.kind() === "ipv4" || (parsed as ipaddr.IPv6).match(GLOBAL_UNICAST_V6));
  if (globalUnicast) return { ok: true };
  const label = LABELS[range] ?? "a special-purpose";
  return { ok: false, reason: `${parsed.toString()} is ${label} address` };
}

/** `localhost` and `*.localhost` always mean loopback (RFC 6761), whatever DNS says. */
const isLocalhostName = (host: string): boolean =>
  host === "localhost" || host.endsWith(".localhost");

/**
 * Static checks of a destination URL: scheme, credentials, and the host when it is an IP
 * literal (the WHATWG parser has already turned decimal, octal and hex IPv4 spellings such as
 * `http://2130706433/` into dotted form). Host names are checked again on every connection.
 */
export function checkUrl(raw: string, policy: NetworkPolicy): Verdict {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "the URL is not a valid absolute URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return { ok: false, reason: "the URL must use https" };
  }
  if (url.username || url.password) {
    return {
      ok: false,
      reason: "the URL must not contain credentials; use a signing secret instead",
    };
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const literal = isIP(host) !== 0;
  const loopbackName = isLocalhostName(host.toLowerCase());
  if (url.protocol === "http:") {
    const loopback = loopbackName || (literal && isLoopback(host));
    if (!(policy.allowLoopbackHttp && loopback)) {
      return {
        ok: false,
        reason: policy.allowLoopbackHttp
          ? "the URL must use https (plain http is allowed only to loopback in the local stack)"
          : "the URL must use https",
      };
    }
  }
  if (literal) {
    const verdict = checkAddress(host, policy);
    return verdict.ok ? verdict : { ok: false, reason: `the URL's host ${verdict.reason}` };
  }
  if (loopbackName && !policy.allowLoopbackHttp) {
    return { ok: false, reason: `the URL's host ${host} is a loopback address` };
  }
  return { ok: true };
}

export function isLoopback(address: string): boolean {
  try {
    let parsed: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(address.replace(/^\[|\]$/g, ""));
    if (parsed instanceof ipaddr.IPv6 && parsed.isIPv4MappedAddress()) {
      parsed = parsed.toIPv4Address();
    }
    return parsed.range() === "loopback";
  } catch {
    return false;
  }
}
