/**
 * The web console's security headers, one definition for both places that serve it: CloudFront
 * (infra/console.ts, a response headers policy) and the local stack (local/console-server.ts).
 * Plain data, no Node built-ins.
 *
 * The policy allows scripts, styles and API calls from the console's own origin only (no
 * inline script, no eval), no plugins, no forms posting elsewhere, and framing only by the
 * origins an operator names (`frame-ancestors`): the CRM that embeds the console.
 */

/** Nobody may frame the console unless a setting says who may. */
export const DEFAULT_FRAME_ANCESTORS = "'none'";

const SOURCE =
  /^(?:'self'|https:\/\/(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::\d{1,5})?|http:\/\/(?:localhost|127\.0\.0\.1)(?::\d{1,5})?)$/;

/**
 * Checks a `frame-ancestors` value: `'none'`, or a space-separated list of `'self'` and
 * origins (`https://crm.example.com`, `https://*.example.com`; plain http for localhost only).
 * Returns it normalized (single spaces); throws saying what is wrong.
 */
export function parseFrameAncestors(text: string): string {
  const sources = text.trim().split(/\s+/).filter(Boolean);
  if (sources.length === 0) throw new Error("is empty; use 'none' to forbid framing");
  if (sources.includes("'none'")) {
    if (sources.length > 1) throw new Error("'none' cannot be combined with other sources");
    return "'none'";
  }
  for (const source of sources) {
    if (!SOURCE.test(source)) {
      throw new Error(
        `'${source}' is not a source like https://crm.example.com, https://*.example.com or 'self'`,
      );
    }
  }
  return sources.join(" ");
}

export function consoleContentSecurityPolicy(frameAncestors: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${frameAncestors}`,
  ].join("; ");
}

/** Two years, the usual preload-grade HSTS lifetime. */
export const HSTS_MAX_AGE_SECONDS = 63_072_000;

/** Every header, as the local stack sends them (CloudFront's policy sets the same). */
export function consoleSecurityHeaders(frameAncestors: string): Record<string, string> {
  return {
    "content-security-policy": consoleContentSecurityPolicy(frameAncestors),
    "strict-transport-security": `max-age=${HSTS_MAX_AGE_SECONDS}; includeSubDomains`,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    // frame-ancestors decides framing; the legacy header only where nobody may frame it.
    ...(frameAncestors === "'none'" ? { "x-frame-options": "DENY" } : {}),
  };
}
