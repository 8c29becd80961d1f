import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { type Command, InvalidArgumentError, Option } from "commander";
import { EVENT_NAMES } from "../shared/catalog.ts";
import { isLoopback } from "../shared/ssrf.ts";
import type { Globals } from "./context.ts";

/** Parsers and readers for the CLI's options: what may be typed, and where secrets come from. */
export const list = (value: string) =>
  value
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);

export const positive = (max: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new InvalidArgumentError(`must be a whole number from 1 to ${max}`);
  }
  return n;
};

export const eventsOption = (value: string) => {
  const events = list(value);
  const unknown = events.filter((event) => !(EVENT_NAMES as readonly string[]).includes(event));
  if (events.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(
      `unknown event ${unknown.join(", ")}; valid: ${EVENT_NAMES.join(", ")}`,
    );
  }
  return events;
};

export const eventOption = (description: string) =>
  new Option("--event <name>", description).choices(EVENT_NAMES);

export const hoursOption = (value: string) => {
  const hours = Number(value);
  if (!Number.isFinite(hours) || hours < 0 || hours > 168) {
    throw new InvalidArgumentError("must be a number of hours from 0 to 168");
  }
  return hours;
};

/** The API URL: https, or plain http to this machine only (a key must not cross a network in clear). */
export const apiUrlOption = (value: string) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError("must be an absolute URL, such as https://api.example.com");
  }
  if (url.protocol === "https:" || (url.protocol === "http:" && isLoopbackUrl(value))) {
    return value;
  }
  throw new InvalidArgumentError(
    "must use https (plain http only to this machine: 127.0.0.1, ::1 or localhost), or the key would travel in clear",
  );
};

export const isoTime = (value: string) => {
  if (Number.isNaN(Date.parse(value))) throw new InvalidArgumentError("must be an ISO 8601 time");
  return new Date(value).toISOString();
};

/** Does the URL point at this machine (a loopback address, or `localhost`)? */
export function isLoopbackUrl(raw: string): boolean {
  try {
    const host = new URL(raw).hostname.replace(/^\[|\]$/g, "");
    return host === "localhost" || isLoopback(host);
  } catch {
    return false;
  }
}

/** Where `--secret -` points people: the command line is visible to `ps` and shell history. */
export const FROM_STDIN =
  "'-' reads it from standard input (the command line shows in ps and history)";

export const secretFileOption = () =>
  new Option("--secret-file <path>", "read the secret from this file").conflicts([
    "secret",
    "generateSecret",
    "removeSecret",
  ]);

/**
 * The secret of `--secret <s>`, `--secret -` (standard input) or `--secret-file <path>`, one
 * final newline dropped (what `echo` and editors add); undefined when none was given.
 */
export async function secretFrom(opts: { secret?: string; secretFile?: string }) {
  if (opts.secretFile === undefined && opts.secret !== "-") return opts.secret;
  const source = opts.secretFile === undefined ? "from standard input" : `in ${opts.secretFile}`;
  const text = withoutFinalNewline(await readInput(opts.secretFile ?? "-"));
  if (!text) throw new InvalidArgumentError(`no secret ${source}`);
  return text;
}

/**
 * The API key: `--key`, else `--key-file`, else WEBHOOKS_API_KEY (a file named on the command
 * line wins over the environment).
 */
export function apiKey(command: Command): string | undefined {
  const { key, keyFile } = command.optsWithGlobals() as Globals;
  if (keyFile === undefined) return key;
  if (command.getOptionValueSourceWithGlobals("key") === "cli") {
    throw new InvalidArgumentError("--key and --key-file contradict each other; give one");
  }
  let text: string;
  try {
    text = readFileSync(keyFile, "utf8").trim();
  } catch (error) {
    throw new InvalidArgumentError(
      `cannot read --key-file ${keyFile}: ${(error as Error).message}`,
    );
  }
  if (!text) throw new InvalidArgumentError(`no key in ${keyFile}`);
  return text;
}

const withoutFinalNewline = (text: string) => text.replace(/\r?\n$/, "");

/** A file's text, or standard input's for `-`. */
export async function readInput(path: string): Promise<string> {
  if (path !== "-") return readFile(path, "utf8");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
