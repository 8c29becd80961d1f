import fc from "fast-check";

/**
 * Destination URLs the guard must refuse whatever the deployment allows, written out
 * independently of shared/ssrf.ts: the property suites (destination guard, API) share them.
 */

/** Where clouds serve instance credentials (AWS IMDS, ECS, EKS Pod Identity; Alibaba). */
export const METADATA_ADDRESSES = [
  "169.254.169.254",
  "169.254.170.2",
  "169.254.170.23",
  "fd00:ec2::254",
  "fd00:ec2::23",
  "100.100.100.200",
];

/** Allow-lists a private deployment might set that cover every metadata address. */
export const COVERING_CIDRS = ["169.254.0.0/16,fd00::/8,100.64.0.0/10", "0.0.0.0/0,::/0"];

/** The one port besides 443 the suites' deployments allow. */
export const ALLOWED_PORT = 8443;

/** Any port but 443 and ALLOWED_PORT, as a URL may write it (leading zeros included). */
export const otherPort = fc
  .tuple(fc.integer({ min: 1, max: 65_535 }), fc.constantFrom("", "0", "00"))
  .filter(([port]) => port !== 443 && port !== ALLOWED_PORT)
  .map(([port, zeros]) => ({ port, written: `${zeros}${port}` }));

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);

/** `localhost` or a name under it, in any case, with or without trailing dots (any spelling). */
export const localhostName = fc
  .tuple(
    fc.array(label, { maxLength: 3 }),
    fc.mixedCase(fc.constant("localhost")),
    fc.constantFrom("", ".", "..", "%2e", "%2E", "\u3002"),
  )
  .map(([labels, name, dot]) => [...labels, `${name}${dot}`].join("."));

/** A URL whose host is a metadata address, in any spelling a URL parser takes. */
export const metadataUrl = fc
  .tuple(fc.constantFrom(...METADATA_ADDRESSES), fc.boolean())
  .map(([address, mapped]) => {
    if (address.includes(":")) return `https://[${address}]/`;
    return mapped ? `https://[::ffff:${address}]/` : `https://${address}/latest/meta-data/`;
  });

/** A public destination on a port that is not allowed (neither 443 nor ALLOWED_PORT). */
export const portUrl = fc
  .tuple(fc.constantFrom("hooks.example.com", "93.184.215.14", "[2606:4700::1111]"), otherPort)
  .map(([host, { written }]) => `https://${host}:${written}/hook`);

/** Destinations a production deployment refuses up front, whatever its allowances cover. */
export const refusedUrl = fc.oneof(
  portUrl,
  localhostName.map((host) => `https://${host}/`),
  metadataUrl,
);
