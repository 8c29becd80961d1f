import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * Which destinations a delivery may reach. A webhook sender is an HTTP client that strangers
 * point at URLs of their choice, so only global unicast addresses are allowed: loopback,
 * private, link-local (cloud metadata lives there), CGNAT, multicast, reserved, unspecified
 * and the IPv6 transition ranges that embed an IPv4 address are all refused, and so is any
 * port but 443 and those the deployment allows (no probing of SSH or Redis). The check runs
 * on every resolved address at connect time (shared/http/sender.ts), so DNS rebinding cannot
 * get around it; subscription create/update runs the same check up front for a clear 422.
 */
export interface NetworkPolicy {
  /** Local stack only: loopback destinations allowed, and plain http to them. */
  allowLoopbackHttp: boolean;
  /**
   * Private deployments: ranges that are allowed although they are not public (a receiver in
   * the same VPC, say). Cloud metadata addresses stay refused even inside them.
   */
  allowedCidrs?: readonly Cidr[] | undefined;
  /**
   * Ports https deliveries may use besides 443 (a receiver on 8443, say). Any other port is
   * refused, so that subscriptions cannot make the service probe SSH, SMTP or Redis on public
   * hosts.
   */
  allowedPorts?: readonly number[] | undefined;
}

export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Parses `10.20.0.0/16,fd12::/48`; throws with the offending entry named. */
export function parseCidrs(text: string): Cidr[] {
  return text
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      try {
        return ipaddr.parseCIDR(entry);
      } catch {
        throw new Error(`'${entry}' is not a CIDR range like 10.20.0.0/16`);
      }
    });
}

/** Parses `8443,9443`; throws with the offending entry named. */
export function parsePorts(text: string): number[] {
  return text
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const port = Number(entry);
      if (!/^\d+$/.test(entry) || port < 1 || port > 65_535) {
        throw new Error(`'${entry}' is not a port number (1-65535)`);
      }
      return port;
    });
}

/**
 * Where clouds serve instance credentials: refused whatever the allow-list says. AWS instance
 * metadata (IPv4 and IPv6), ECS task credentials, EKS Pod Identity (IPv4 and IPv6), Alibaba.
 */
const METADATA = [
  "169.254.169.254",
  "fd00:ec2::254",
  "169.254.170.2",
  "169.254.170.23",
  "fd00:ec2::23",
  "100.100.100.200",
];
/** The addresses above in ipaddr's form, parsed on first use rather than at every cold start. */
let metadata: string[] | undefined;
function metadataAddresses(): string[] {
  metadata ??= METADATA.map((a) => ipaddr.parse(a).toString());
  return metadata;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

let globalUnicastV6: Cidr | undefined;
function globalUnicastV6Range(): Cidr {
  globalUnicastV6 ??= ipaddr.parseCIDR("2000::/3");
  return globalUnicastV6;
}

const LABELS: Record<string, string> = {
  unspecified: "an unspecified",
  broadcast: "a broadcast",
  multicast: "a multicast",
  linkLocal: "a link-local",
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
  if (metadataAddresses().includes(parsed.toString())) {
    return { ok: false, reason: `${parsed.toString()} is a cloud metadata address` };
  }
  if (range === "loopback" && policy.allowLoopbackHttp) return { ok: true };
  const ip = parsed;
  const allowListed = policy.allowedCidrs?.some(
    // Same family; the casts only tell TypeScript what `kind()` has just established.
    ([net, bits]) =>
      net.kind() === ip.kind() && (ip as ipaddr.IPv4).match(net as ipaddr.IPv4, bits),
  );
  if (allowListed) return { ok: true };
  const globalUnicast =
    range === "unicast" &&
    (parsed.kind() === "ipv4" || (parsed as ipaddr.IPv6).match(globalUnicastV6Range()));
  if (globalUnicast) return { ok: true };
  const label = LABELS[range] ?? "a special-purpose";
  return { ok: false, reason: `${parsed.toString()} is ${label} address` };
}

/**
 * `localhost` and `*.localhost` always mean loopback (RFC 6761), whatever DNS says; so do
 * their fully-qualified spellings with a trailing dot (`localhost.`), in any case.
 */
const isLocalhostName = (host: string): boolean => {
  const name = host.toLowerCase().replace(/\.+$/, "");
  return name === "localhost" || name.endsWith(".localhost");
};

/**
 * Static checks of a destination URL: scheme, credentials, port, and the host when it is an IP
 * literal (the WHATWG parser has already turned decimal, octal and hex IPv4 spellings such as
 * `http://2130706433/` into dotted form). Host names are checked again on every connection;
 * the sender plans every request through this check, so the port rule holds at send time too.
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
  const loopbackName = isLocalhostName(host);
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
    if (!verdict.ok) return { ok: false, reason: `the URL's host ${verdict.reason}` };
  } else if (loopbackName && !policy.allowLoopbackHttp) {
    return { ok: false, reason: `the URL's host ${host} is a loopback address` };
  }
  return checkPort(url, policy);
}

const HTTPS_PORT = 443;

/**
 * https goes to 443 or an allowed port. Plain http gets this far only to loopback in the local
 * stack, where receivers listen on whatever port they like.
 */
function checkPort(url: URL, policy: NetworkPolicy): Verdict {
  if (url.protocol === "http:") return { ok: true };
  // The WHATWG parser leaves `port` empty for the scheme's default, so "" is 443.
  const port = url.port === "" ? HTTPS_PORT : Number(url.port);
  if (port === HTTPS_PORT || policy.allowedPorts?.includes(port)) return { ok: true };
  return {
    ok: false,
    reason: `the URL's port ${port} is not allowed (only 443 and the ports in WEBHOOKS_ALLOWED_PORTS are)`,
  };
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
