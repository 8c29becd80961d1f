/**
 * Where the console keeps its credential: in memory, and in sessionStorage — kept for this tab
 * only, gone when it closes, never in localStorage or a cookie. A portal session arrives in the
 * URL's fragment (`/console#session=<token>`, which browsers never send to a server); it is
 * read once and removed from the address bar and the history at once.
 */
const STORAGE_KEY = "customermates-webhooks.credential";

function storage(): Storage | undefined {
  try {
    return window.sessionStorage;
  } catch {
    return undefined; // storage blocked (a sandboxed or third-party frame): memory only
  }
}

/** A portal session token from `#session=…`, taken out of the URL; or undefined. */
export function takeSessionFromFragment(): string | undefined {
  const match = /^#session=([^&]+)/.exec(window.location.hash);
  if (!match?.[1]) return undefined;
  window.history.replaceState(
    null,
    "",
    `${window.location.pathname}${window.location.search}#/subscriptions`,
  );
  return decodeURIComponent(match[1]);
}

export function loadCredential(): string | undefined {
  try {
    return storage()?.getItem(STORAGE_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function saveCredential(token: string): void {
  try {
    storage()?.setItem(STORAGE_KEY, token);
  } catch {
    // memory only
  }
}

export function clearCredential(): void {
  try {
    storage()?.removeItem(STORAGE_KEY);
  } catch {
    // nothing kept
  }
}
