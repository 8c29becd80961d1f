import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";

/**
 * The local stack's Invoke API runs operator-only functions, which have no authentication of
 * their own (on AWS, IAM guards Lambda Invoke). Loopback alone is not enough: any web page the
 * operator opens can POST to 127.0.0.1. So callers must send this token in a custom header,
 * which a page cannot add without a CORS preflight, and the endpoint never grants one.
 */
export const INVOKE_TOKEN_HEADER = "x-webhooks-invoke-token";
export const INVOKE_TOKEN_ENV = "WEBHOOKS_LOCAL_INVOKE_TOKEN";
const FILE = "local-invoke-token";

/** Where `npm start` keeps its data unless WEBHOOKS_LOCAL_DATA_DIR says otherwise. */
const DEFAULT_DATA_DIR = resolve(import.meta.dirname, "../.data");

/**
 * The token, generated on the first `npm start` and kept in the data directory (mode 0600),
 * so a token exported in a shell stays good across restarts.
 */
export async function ensureInvokeToken(dataDir: string): Promise<string> {
  const path = join(dataDir, FILE);
  await mkdir(dataDir, { recursive: true });
  try {
    await writeFile(path, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const token = (await readFile(path, "utf8")).trim();
  if (!/^[0-9a-f]{64}$/.test(token)) {
    throw new Error(`${path} does not hold an invoke token; delete it to have one generated.`);
  }
  return token;
}

/** The CLI's side: WEBHOOKS_LOCAL_INVOKE_TOKEN, else the file in the local data directory. */
export function findInvokeToken(env: Record<string, string | undefined>): string | undefined {
  if (env[INVOKE_TOKEN_ENV]) return env[INVOKE_TOKEN_ENV];
  const dataDir = resolve(env.WEBHOOKS_LOCAL_DATA_DIR || DEFAULT_DATA_DIR);
  try {
    return readFileSync(join(dataDir, FILE), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Compares in constant time (hashing first, so the lengths are equal too). */
export function isInvokeToken(presented: string | undefined, token: string): boolean {
  if (!presented) return false;
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(presented), digest(token));
}
