import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { SingleBar } from "cli-progress";
import { Command, InvalidArgumentError, Option } from "commander";
import { findInvokeToken, INVOKE_TOKEN_ENV, INVOKE_TOKEN_HEADER } from "../local/invoke-token.ts";
import { createDocumentClient } from "../shared/aws.ts";
import { EVENT_NAMES } from "../shared/catalog.ts";
import { DELIVERY_STATUSES } from "../shared/domain.ts";
import {
  type ApiKeyView,
  apiKeyView,
  type DeliverySummaryView,
  type DeliveryView,
  type Page,
  type SubscriptionView,
} from "../shared/http/views.ts";
import { ROLES, type Role, WORKSPACE_ID } from "../shared/keys.ts";
import { isLoopback } from "../shared/ssrf.ts";
import { DynamoWorkspaceStore } from "../shared/store/workspace-store.ts";
import { createKey, revokeKey } from "../shared/use-cases/keys.ts";
import type { DeadLetterView, DrainResult, ReplayResult } from "../shared/use-cases/resend.ts";
import { VERSION } from "../shared/version.ts";
import { ApiClient, queryString } from "./api-client.ts";
import { fields, type Io, relative, table, truncate } from "./output.ts";

const LOCAL_API = "http://127.0.0.1:3000";
const DEFAULT_RESEND_FUNCTION = "webhooks-resend";

interface Globals {
  apiUrl: string;
  key?: string;
  keyFile?: string;
  json?: boolean;
}

const list = (value: string) =>
  value
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
const positive = (max: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new InvalidArgumentError(`must be a whole number from 1 to ${max}`);
  }
  return n;
};
const eventsOption = (value: string) => {
  const events = list(value);
  const unknown = events.filter((event) => !(EVENT_NAMES as readonly string[]).includes(event));
  if (events.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(
      `unknown event ${unknown.join(", ")}; valid: ${EVENT_NAMES.join(", ")}`,
    );
  }
  return events;
};
const hoursOption = (value: string) => {
  const hours = Number(value);
  if (!Number.isFinite(hours) || hours < 0 || hours > 168) {
    throw new InvalidArgumentError("must be a number of hours from 0 to 168");
  }
  return hours;
};
/** The API URL: https, or plain http to this machine only (a key must not cross a network in clear). */
const apiUrlOption = (value: string) => {
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
const isoTime = (value: string) => {
  if (Number.isNaN(Date.parse(value))) throw new InvalidArgumentError("must be an ISO 8601 time");
  return new Date(value).toISOString();
};

/**
 * The operators' CLI. It talks to the HTTP API (`--api-url`, `--key`), except for
 * `keys … --table` (straight to DynamoDB, for a deployment's first admin key) and
 * `dlq drain` (the resend function, via Lambda Invoke).
 */
export function createProgram(
  io: Io,
  env: Record<string, string | undefined> = process.env,
): Command {
  const program = new Command()
    .name("webhooks")
    .description(
      "Operate Customermates Webhooks: subscriptions, events, deliveries, dead letters, keys.",
    )
    .version(VERSION)
    .addOption(
      new Option("--api-url <url>", "the HTTP API (https, or http to this machine)")
        .env("WEBHOOKS_API_URL")
        .default(LOCAL_API)
        .argParser(apiUrlOption),
    )
    .addOption(
      new Option(
        "--key <key>",
        "an admin (or, for `events send`, ingest) key; prefer --key-file or the variable, which `ps` and shell history do not show",
      ).env("WEBHOOKS_API_KEY"),
    )
    .option("--key-file <path>", "read the key from this file (ahead of WEBHOOKS_API_KEY)")
    .option("--json", "print the API's JSON instead of tables")
    .showHelpAfterError()
    .configureOutput({
      writeOut: (text) => io.out(text.trimEnd()),
      writeErr: (text) => io.err(text.trimEnd()),
    });

  const globals = (command: Command) => command.optsWithGlobals() as Globals;
  const client = (command: Command) => new ApiClient(globals(command).apiUrl, apiKey(command));
  const print = (command: Command, answer: unknown, human: () => string) =>
    io.out(globals(command).json ? JSON.stringify(answer, null, 2) : human());

  // subscriptions -----------------------------------------------------------------------------
  const subscriptions = program
    .command("subscriptions")
    .description("manage the endpoints events go to");

  subscriptions
    .command("list")
    .description("list the workspace's subscriptions")
    .action(async (_opts, command: Command) => {
      const answer = await client(command).request<Page<SubscriptionView>>(
        "GET",
        "/v1/subscriptions",
      );
      print(command, answer, () =>
        table(
          ["ID", "URL", "EVENTS", "ENABLED", "SECRET", "DESCRIPTION"],
          answer.data.map((s) => [
            s.id,
            s.url,
            s.events.join(","),
            s.enabled ? "yes" : "no",
            s.secret ?? "none",
            truncate(s.description, 30),
          ]),
        ),
      );
    });

  subscriptions
    .command("show <id>")
    .description("show one subscription")
    .action(async (id: string, _opts, command: Command) => {
      const s = await client(command).request<SubscriptionView>(
        "GET",
        `/v1/subscriptions/${encodeURIComponent(id)}`,
      );
      print(command, s, () => subscriptionFields(s));
    });

  subscriptions
    .command("create")
    .description("subscribe an endpoint; a generated secret is shown once")
    .requiredOption("--url <url>", "the receiver's https URL")
    .requiredOption("--events <names>", "comma-separated event names", eventsOption)
    .option("--secret <secret>", `your own signing secret (16+ characters); ${FROM_STDIN}`)
    .addOption(secretFileOption())
    .option("--generate-secret", "have a whsec_ secret generated (shown once)")
    .option("--disabled", "create it disabled")
    .option("--description <text>", "what it is for")
    .action(async (opts, command: Command) => {
      const secret = await secretFrom(opts);
      const body = {
        url: opts.url,
        events: opts.events,
        ...(secret === undefined ? {} : { secret }),
        ...(opts.generateSecret ? { generateSecret: true } : {}),
        ...(opts.disabled ? { enabled: false } : {}),
        ...(opts.description ? { description: opts.description } : {}),
      };
      const s = await client(command).request<SubscriptionView>("POST", "/v1/subscriptions", body);
      print(
        command,
        s,
        () =>
          `${subscriptionFields(s)}${s.secret?.includes("*") || !s.secret ? "" : "\n\nKeep the secret now: it is not shown again."}`,
      );
    });

  subscriptions
    .command("update <id>")
    .description("change a subscription; changes apply to the next attempt")
    .option("--url <url>", "a new URL")
    .option("--events <names>", "the new comma-separated event names", eventsOption)
    .option("--secret <secret>", `replace the secret at once; ${FROM_STDIN}`)
    .addOption(secretFileOption())
    .option("--generate-secret", "replace the secret with a generated one (shown once)")
    .option("--remove-secret", "stop signing deliveries")
    .option("--enable", "enable it")
    .option("--disable", "disable it (nothing is sent while disabled)")
    .option("--replay-missed", "with --enable: resend what it missed while failing or disabled")
    .option("--description <text>", "a new description")
    .action(async (id: string, opts, command: Command) => {
      if (opts.enable && opts.disable)
        throw new InvalidArgumentError("--enable and --disable contradict each other");
      const secret = await secretFrom(opts);
      const patch = {
        ...(opts.url ? { url: opts.url } : {}),
        ...(opts.events ? { events: opts.events } : {}),
        ...(secret === undefined ? {} : { secret }),
        ...(opts.removeSecret ? { secret: null } : {}),
        ...(opts.generateSecret ? { generateSecret: true } : {}),
        ...(opts.enable ? { enabled: true } : {}),
        ...(opts.disable ? { enabled: false } : {}),
        ...(opts.description !== undefined ? { description: opts.description } : {}),
      };
      const s = await client(command).request<
        SubscriptionView & { missed?: { from: string; to: string } }
      >("PATCH", `/v1/subscriptions/${encodeURIComponent(id)}`, patch);
      const replay = s.missed
        ? [
            "deliveries",
            "replay",
            "--subscription",
            s.id,
            "--from",
            s.missed.from,
            "--to",
            s.missed.to,
            "--status",
            "failed,canceled",
          ]
        : undefined;
      if (replay && opts.replayMissed && s.missed) {
        const result = await replayAll(client(command), progress(io, globals(command), "replay"), {
          subscriptionId: s.id,
          from: s.missed.from,
          to: s.missed.to,
          status: ["failed", "canceled"],
        });
        print(
          command,
          { ...s, replayed: result },
          () =>
            `${subscriptionFields(s)}\n\nReplayed ${result.queued} deliveries it missed${problems(result.errors)}.`,
        );
        return;
      }
      print(command, s, () =>
        replay
          ? `${subscriptionFields(s)}\n\nIt missed deliveries from ${s.missed?.from}; resend them with:\n  webhooks ${replay.join(" ")}`
          : subscriptionFields(s),
      );
    });

  subscriptions
    .command("rotate-secret <id>")
    .description("replace the secret; the old one keeps signing during the grace period")
    .option(
      "--secret <secret>",
      `your own new secret (default: a generated whsec_ secret); ${FROM_STDIN}`,
    )
    .addOption(secretFileOption())
    .option("--grace <hours>", "hours the old secret keeps signing (0-168)", hoursOption, 24)
    .action(async (id: string, opts, command: Command) => {
      const secret = await secretFrom(opts);
      const s = await client(command).request<SubscriptionView>(
        "POST",
        `/v1/subscriptions/${encodeURIComponent(id)}/rotate-secret`,
        {
          gracePeriodSeconds: Math.round(opts.grace * 3600),
          ...(secret === undefined ? {} : { secret }),
        },
      );
      print(
        command,
        s,
        () =>
          `${subscriptionFields(s)}\n\nKeep the new secret now: it is not shown again. Until ${s.rotationEndsAt ?? "now"} deliveries carry signatures with both.`,
      );
    });

  subscriptions
    .command("delete <id>")
    .description("delete a subscription; its queued deliveries are cancelled")
    .action(async (id: string, _opts, command: Command) => {
      await client(command).request("DELETE", `/v1/subscriptions/${encodeURIComponent(id)}`);
      print(command, { deleted: id }, () => `Deleted ${id}.`);
    });

  // events ------------------------------------------------------------------------------------
  program
    .command("events")
    .description("post CRM events")
    .command("send <event>")
    .description("post one event (needs an ingest or admin key)")
    .option("--data <json>", "the record, as a JSON object", "{}")
    .option("--data-file <path>", "read the record from a file ('-' for stdin)")
    .option("--id <id>", "the event id: makes a retry of this command safe")
    .option("--timestamp <iso>", "when it happened (default: now)", isoTime)
    .action(async (event: string, opts, command: Command) => {
      if (!(EVENT_NAMES as readonly string[]).includes(event)) {
        throw new InvalidArgumentError(
          `unknown event '${event}'; valid: ${EVENT_NAMES.join(", ")}`,
        );
      }
      const raw = opts.dataFile ? await readInput(opts.dataFile) : opts.data;
      try {
        const parsed = JSON.parse(raw);
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
          throw new Error("not an object");
      } catch {
        throw new InvalidArgumentError("--data must be a JSON object");
      }
      // Built as text so the record's numbers reach the API exactly as written.
      const body = `{"event":${JSON.stringify(event)},"data":${raw.trim()}${opts.id ? `,"id":${JSON.stringify(opts.id)}` : ""}${opts.timestamp ? `,"timestamp":${JSON.stringify(opts.timestamp)}` : ""}}`;
      const answer = await client(command).request<{
        id: string;
        event: string;
        deliveries: number;
      }>("POST", "/v1/events", body);
      print(
        command,
        answer,
        () => `Accepted ${answer.id} (${answer.event}): ${answer.deliveries} deliveries queued.`,
      );
    });

  // deliveries --------------------------------------------------------------------------------
  const deliveries = program.command("deliveries").description("inspect and resend deliveries");

  deliveries
    .command("list")
    .description("newest first")
    .addOption(new Option("--status <status>", "only this status").choices(DELIVERY_STATUSES))
    .option("--subscription <id>", "only this subscription")
    .addOption(new Option("--event <name>", "only this event").choices(EVENT_NAMES))
    .option("--limit <n>", "how many (1-100)", positive(100), 20)
    .option("--cursor <cursor>", "continue from a previous list")
    .action(async (opts, command: Command) => {
      const answer = await client(command).request<Page<DeliverySummaryView>>(
        "GET",
        `/v1/deliveries${queryString({ status: opts.status, subscriptionId: opts.subscription, event: opts.event, limit: opts.limit, cursor: opts.cursor })}`,
      );
      print(command, answer, () => {
        const rows = answer.data.map((d) => [
          d.id,
          d.event,
          d.subscriptionId,
          d.status,
          d.attemptCount,
          truncate(d.lastError, 40),
          relative(d.updatedAt),
        ]);
        const more = answer.nextCursor
          ? `\n\nMore: webhooks deliveries list --cursor ${answer.nextCursor}`
          : "";
        return `${table(["ID", "EVENT", "SUBSCRIPTION", "STATUS", "ATTEMPTS", "LAST ERROR", "UPDATED"], rows)}${more}`;
      });
    });

  deliveries
    .command("show <id>")
    .description("one delivery: payload and every attempt")
    .action(async (id: string, _opts, command: Command) => {
      const d = await client(command).request<DeliveryView>(
        "GET",
        `/v1/deliveries/${encodeURIComponent(id)}`,
      );
      print(command, d, () => deliveryDetail(d));
    });

  deliveries
    .command("resend <id>")
    .description(
      "send a delivery again (same id, fresh schedule, history kept); works for any status",
    )
    .action(async (id: string, _opts, command: Command) => {
      const answer = await client(command).request<{ id: string; generation: number }>(
        "POST",
        `/v1/deliveries/${encodeURIComponent(id)}/resend`,
      );
      print(command, answer, () => `Queued ${answer.id} again (run ${answer.generation}).`);
    });

  deliveries
    .command("replay")
    .description("resend every delivery of events accepted in a time window")
    .requiredOption("--from <iso>", "window start", isoTime)
    .requiredOption("--to <iso>", "window end", isoTime)
    .option("--subscription <id>", "only this subscription")
    .option("--status <statuses>", "only these statuses (comma-separated)", list)
    .option("--limit <n>", "at most this many deliveries", positive(1_000_000))
    .action(async (opts, command: Command) => {
      const total = await replayAll(
        client(command),
        progress(io, globals(command), "replay"),
        {
          from: opts.from,
          to: opts.to,
          ...(opts.subscription ? { subscriptionId: opts.subscription } : {}),
          ...(opts.status ? { status: opts.status } : {}),
        },
        opts.limit,
      );
      print(
        command,
        total,
        () =>
          `Replay queued ${total.queued}, skipped ${total.skipped} (already being resent)${problems(total.errors)}.`,
      );
    });

  // dlq ---------------------------------------------------------------------------------------
  const dlq = program
    .command("dlq")
    .description("the dead-letter queue: deliveries that ran out of attempts");

  dlq
    .command("status")
    .description("how many of the workspace's deliveries wait in the dead-letter queue")
    .option("--subscription <id>", "only this subscription")
    .addOption(new Option("--event <name>", "only this event").choices(EVENT_NAMES))
    .action(async (opts, command: Command) => {
      const answer = await client(command).request<DeadLetterView>(
        "GET",
        `/v1/dlq${queryString({ subscriptionId: opts.subscription, event: opts.event })}`,
      );
      print(command, answer, () =>
        fields([
          ["dead letters", answer.depthExact ? answer.depth : `at least ${answer.depth}`],
          [
            "oldest failed",
            answer.oldestFailedAt
              ? `${answer.oldestFailedAt} (${relative(answer.oldestFailedAt)})`
              : null,
          ],
        ]),
      );
    });

  dlq
    .command("redrive")
    .description(
      "resend the workspace's dead letters with a fresh schedule (safe to run twice at once)",
    )
    .option("--subscription <id>", "only this subscription")
    .addOption(new Option("--event <name>", "only this event").choices(EVENT_NAMES))
    .option("--limit <n>", "at most this many", positive(1_000_000))
    .action(async (opts, command: Command) => {
      const api = client(command);
      const filter = {
        ...(opts.subscription ? { subscriptionId: opts.subscription } : {}),
        ...(opts.event ? { event: opts.event } : {}),
      };
      const before = await api.request<DeadLetterView>("GET", `/v1/dlq${queryString(filter)}`);
      const goal = Math.min(before.depth, opts.limit ?? Number.POSITIVE_INFINITY);
      const bar = goal > 0 ? progress(io, globals(command), "redrive", goal) : undefined;
      const total = {
        moved: 0,
        skipped: 0,
        errors: [] as Array<{ id: string; reason: string }>,
        left: before.depth,
        leftExact: before.depthExact,
      };
      let cursor: string | undefined;
      const seen = () => total.moved + total.skipped + total.errors.length;
      do {
        const page = await api.request<{
          moved: number;
          skipped: number;
          errors: Array<{ id: string; reason: string }>;
          left: number;
          leftExact: boolean;
          nextCursor: string | null;
        }>("POST", "/v1/dlq/redrive", {
          ...filter,
          limit: Math.max(1, Math.min(100, goal - total.moved)),
          ...(cursor ? { cursor } : {}),
        });
        total.moved += page.moved;
        total.skipped += page.skipped;
        total.errors.push(...page.errors);
        total.left = page.left;
        total.leftExact = page.leftExact;
        bar?.update(Math.min(goal, seen()));
        cursor = page.nextCursor ?? undefined;
      } while (cursor && total.moved < goal);
      bar?.stop();
      print(
        command,
        total,
        () =>
          `Redrove ${total.moved}; skipped ${total.skipped} (being resent already)${problems(total.errors)}; ${total.leftExact ? "" : "at least "}${total.left} left.`,
      );
    });

  dlq
    .command("drain")
    .description(
      "operators: move the SQS dead-letter queue back, all workspaces (invokes the resend function)",
    )
    .option("--workspace <id>", "only this workspace")
    .option("--subscription <id>", "only this subscription")
    .addOption(new Option("--event <name>", "only this event").choices(EVENT_NAMES))
    .option("--limit <n>", "at most this many", positive(10_000), 1000)
    .addOption(
      new Option("--function <name>", "the resend function")
        .env("WEBHOOKS_RESEND_FUNCTION")
        .default(DEFAULT_RESEND_FUNCTION),
    )
    .action(async (opts, command: Command) => {
      const result = await invokeResend(globals(command), env, opts.function, {
        action: "drain",
        limit: opts.limit,
        ...(opts.workspace ? { workspaceId: opts.workspace } : {}),
        ...(opts.subscription ? { subscriptionId: opts.subscription } : {}),
        ...(opts.event ? { event: opts.event } : {}),
      });
      print(
        command,
        result,
        () =>
          `Moved ${result.moved}, dropped ${result.dropped} (already resent or expired), skipped ${result.skipped}${problems(result.errors)}; ${result.left} left in the queue.`,
      );
    });

  // keys --------------------------------------------------------------------------------------
  const keys = program
    .command("keys")
    .description(
      "API keys; with --table, straight to DynamoDB (AWS credentials) for a deployment's first key",
    );
  const direct = (command: Command) => {
    const opts = command.opts();
    if (!opts.table) return undefined;
    if (!opts.workspace || !WORKSPACE_ID.test(opts.workspace)) {
      throw new InvalidArgumentError(
        "--table needs --workspace <id> (lowercase letters, digits, -)",
      );
    }
    return {
      workspaceId: opts.workspace as string,
      store: new DynamoWorkspaceStore({
        client: createDocumentClient(localCredentials(env, "DYNAMODB")),
        name: opts.table,
      }),
    };
  };
  const keyTarget = (c: Command) =>
    c
      .option("--table <name>", "write to this DynamoDB table instead of calling the API")
      .option("--workspace <id>", "the workspace (with --table)");

  keyTarget(keys.command("create"))
    .description("mint a key; it is shown once")
    .addOption(new Option("--role <role>", "what it may do").choices(ROLES).makeOptionMandatory())
    .option("--name <name>", "a label")
    .action(async (opts, command: Command) => {
      const straight = direct(command);
      const answer = straight
        ? await createKey(
            straight.workspaceId,
            { role: opts.role as Role, name: opts.name },
            straight.store,
          ).then(({ apiKey, plaintext }) => ({ ...apiKeyView(apiKey), key: plaintext }))
        : await client(command).request<ApiKeyView & { key: string }>("POST", "/v1/keys", {
            role: opts.role,
            ...(opts.name ? { name: opts.name } : {}),
          });
      print(
        command,
        answer,
        () =>
          `${fields([
            ["id", answer.id],
            ["role", answer.role],
            ["name", answer.name],
            ["key", answer.key],
          ])}\n\nKeep the key now: it is not shown again.`,
      );
    });

  keyTarget(keys.command("list"))
    .description("list keys (never the keys themselves)")
    .action(async (_opts, command: Command) => {
      const straight = direct(command);
      const answer = straight
        ? { data: (await straight.store.listKeys(straight.workspaceId)).map(apiKeyView) }
        : await client(command).request<Page<ApiKeyView>>("GET", "/v1/keys");
      print(command, answer, () =>
        table(
          ["ID", "NAME", "ROLE", "HINT", "CREATED", "REVOKED"],
          answer.data.map((k) => [k.id, k.name, k.role, k.hint, k.createdAt, k.revokedAt]),
        ),
      );
    });

  keyTarget(keys.command("revoke <id>"))
    .description("revoke a key at once")
    .action(async (id: string, _opts, command: Command) => {
      const straight = direct(command);
      if (straight) await revokeKey(straight.workspaceId, id, straight.store);
      else await client(command).request("DELETE", `/v1/keys/${encodeURIComponent(id)}`);
      print(command, { revoked: id }, () => `Revoked ${id}.`);
    });

  return program;
}

function subscriptionFields(s: SubscriptionView): string {
  return fields([
    ["id", s.id],
    ["url", s.url],
    ["events", s.events.join(", ")],
    ["enabled", s.enabled ? "yes" : "no"],
    ["secret", s.secret ?? "none"],
    ["rotation ends", s.rotationEndsAt],
    ["failing since", s.failingSince],
    ["disabled", s.disabledReason ? `${s.disabledAt}: ${s.disabledReason}` : null],
    ["description", s.description || null],
    ["created", s.createdAt],
    ["updated", s.updatedAt],
  ]);
}

function deliveryDetail(d: DeliveryView): string {
  const head = fields([
    ["id", d.id],
    ["event", `${d.event} (${d.eventId})`],
    ["subscription", d.subscriptionId],
    ["status", d.status],
    ["attempts", d.attemptCount],
    ["next attempt", d.nextAttemptAt ? `${d.nextAttemptAt} (${relative(d.nextAttemptAt)})` : null],
    ["last error", d.lastError],
  ]);
  const attempts = table(
    ["#", "RUN", "STARTED", "TOOK", "RESULT", "DETAIL"],
    d.attempts.map((a) => [
      a.number,
      a.generation,
      a.startedAt,
      `${a.durationMs}ms`,
      a.response ? `HTTP ${a.response.status}` : a.error?.class,
      truncate(a.response?.body || a.error?.message, 50),
    ]),
  );
  const last = d.attempts.at(-1);
  const answer = last?.response
    ? `\n\nLast response (HTTP ${last.response.status})${last.response.bodyTruncated ? ", body truncated" : ""}:\n${last.response.body || "(empty body)"}`
    : "";
  return `${head}\n\nAttempts:\n${attempts}${answer}\n\nPayload:\n${d.payload ?? "(past retention)"}`;
}

function progress(io: Io, g: Globals, label: string, total = 0): SingleBar | undefined {
  if (g.json || !io.interactive) return undefined;
  const bar = new SingleBar({
    format: `${label} [{bar}] {value}/{total}`,
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true,
  });
  bar.start(total, 0);
  return bar;
}

/** Where `--secret -` points people: the command line is visible to `ps` and shell history. */
const FROM_STDIN = "'-' reads it from standard input (the command line shows in ps and history)";

const secretFileOption = () =>
  new Option("--secret-file <path>", "read the secret from this file").conflicts([
    "secret",
    "generateSecret",
    "removeSecret",
  ]);

/**
 * The secret of `--secret <s>`, `--secret -` (standard input) or `--secret-file <path>`, one
 * final newline dropped (what `echo` and editors add); undefined when none was given.
 */
async function secretFrom(opts: { secret?: string; secretFile?: string }) {
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
function apiKey(command: Command): string | undefined {
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

async function readInput(path: string): Promise<string> {
  if (path !== "-") return readFile(path, "utf8");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * SDK settings for a local endpoint: when AWS_ENDPOINT_URL_<SERVICE> points at this machine
 * and no credentials are set, the emulators accept any.
 */
function localCredentials(env: Record<string, string | undefined>, service: string) {
  const endpoint = env[`AWS_ENDPOINT_URL_${service}`];
  const local =
    endpoint !== undefined && /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(endpoint);
  return local && !env.AWS_ACCESS_KEY_ID
    ? {
        region: env.AWS_REGION ?? "us-east-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      }
    : {};
}

/** Does the URL point at this machine (a loopback address, or `localhost`)? */
function isLoopbackUrl(raw: string): boolean {
  try {
    const host = new URL(raw).hostname.replace(/^\[|\]$/g, "");
    return host === "localhost" || isLoopback(host);
  } catch {
    return false;
  }
}

/**
 * Invokes the resend function; against the local stack unless a Lambda endpoint is set. The
 * local stack's Invoke API wants its invoke token (local/invoke-token.ts); AWS wants IAM.
 */
async function invokeResend(
  g: Globals,
  env: Record<string, string | undefined>,
  name: string,
  payload: unknown,
): Promise<DrainResult> {
  const endpoint = env.AWS_ENDPOINT_URL_LAMBDA ?? (isLoopbackUrl(g.apiUrl) ? g.apiUrl : undefined);
  const lambda = new LambdaClient({
    ...(endpoint ? { endpoint } : {}),
    ...localCredentials({ ...env, AWS_ENDPOINT_URL_LAMBDA: endpoint }, "LAMBDA"),
  });
  if (endpoint && isLoopbackUrl(endpoint)) {
    const token = findInvokeToken(env);
    if (!token) {
      throw new Error(
        `the local stack at ${endpoint} needs its invoke token: export ${INVOKE_TOKEN_ENV} as \`npm start\` prints it, or set WEBHOOKS_LOCAL_DATA_DIR to the stack's data directory.`,
      );
    }
    lambda.middlewareStack.add(
      (next) => (args) => {
        const request = args.request as { headers?: Record<string, string> };
        if (request.headers) request.headers[INVOKE_TOKEN_HEADER] = token;
        return next(args);
      },
      { step: "build", name: "localInvokeToken" },
    );
  }
  const result = await lambda.send(
    new InvokeCommand({
      FunctionName: name,
      Payload: new TextEncoder().encode(JSON.stringify(payload)),
    }),
  );
  const body = JSON.parse(new TextDecoder().decode(result.Payload ?? new Uint8Array()) || "null");
  if (result.FunctionError)
    throw new Error(`The resend function failed: ${body?.errorMessage ?? "unknown error"}`);
  return body;
}

/** ", 3 could not be resent: id (reason), …" — or nothing. */
function problems(errors: ReadonlyArray<{ id: string; reason: string }>): string {
  if (errors.length === 0) return "";
  const shown = errors
    .slice(0, 5)
    .map((e) => `${e.id} (${e.reason})`)
    .join(", ");
  return `; ${errors.length} could not be resent: ${shown}${errors.length > 5 ? ", …" : ""}`;
}

/** Every page of a replay, with a progress bar; `limit` caps how many deliveries it takes. */
async function replayAll(
  api: ApiClient,
  bar: ReturnType<typeof progress>,
  body: Record<string, unknown>,
  limit?: number,
): Promise<{ queued: number; skipped: number; errors: Array<{ id: string; reason: string }> }> {
  const total = { queued: 0, skipped: 0, errors: [] as Array<{ id: string; reason: string }> };
  const seen = () => total.queued + total.skipped + total.errors.length;
  let cursor: string | undefined;
  do {
    const remaining = limit === undefined ? 100 : Math.min(100, limit - seen());
    if (remaining <= 0) break;
    const page = await api.request<Omit<ReplayResult, "next"> & { nextCursor: string | null }>(
      "POST",
      "/v1/deliveries/replay",
      { ...body, limit: remaining, ...(cursor ? { cursor } : {}) },
    );
    total.queued += page.queued;
    total.skipped += page.skipped;
    total.errors.push(...page.errors);
    bar?.setTotal(seen() + (page.nextCursor ? 100 : 0));
    bar?.update(seen());
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  bar?.stop();
  return total;
}
