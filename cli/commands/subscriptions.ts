import { type Command, InvalidArgumentError, Option } from "commander";
import type { Cli } from "../context.ts";
import {
  eventOption,
  eventsOption,
  FROM_STDIN,
  hoursOption,
  secretFileOption,
  secretFrom,
} from "../options.ts";
import { table } from "../output.ts";
import { problems, subscriptionFields, subscriptionTable, testSendSummary } from "../render.ts";
import { replayAll } from "./deliveries.ts";

/** `webhooks subscriptions …`: the endpoints events go to. */
export function subscriptionCommands(program: Command, cli: Cli): void {
  const subscriptions = program
    .command("subscriptions")
    .description("manage the endpoints events go to");

  subscriptions
    .command("list")
    .description("list the workspace's subscriptions")
    .action(async (_opts, command: Command) => {
      const answer = await cli.api(command).call("GET /v1/subscriptions");
      cli.print(command, answer, () => subscriptionTable(answer));
    });

  subscriptions
    .command("show <id>")
    .description("show one subscription")
    .action(async (id: string, _opts, command: Command) => {
      const s = await cli.api(command).call("GET /v1/subscriptions/{id}", { params: { id } });
      cli.print(command, s, () => subscriptionFields(s));
    });

  subscriptions
    .command("stats <id>")
    .description("delivery statistics: attempts, failures by class, latency, health")
    .addOption(
      new Option("--window <window>", "the last 24 hours or 7 days")
        .choices(["24h", "7d"])
        .default("24h"),
    )
    .action(async (id: string, opts, command: Command) => {
      const stats = await cli.api(command).call("GET /v1/subscriptions/{id}/stats", {
        params: { id },
        query: { window: opts.window },
      });
      cli.print(command, stats, () => {
        const rate = stats.attempts ? ((100 * stats.succeeded) / stats.attempts).toFixed(1) : "—";
        const classes = Object.entries(stats.failedByClass)
          .map(([name, n]) => `${name} ${n}`)
          .join(", ");
        const ms = (n: number | null) => (n === null ? "—" : `≤ ${n} ms`);
        const health = stats.health.enabled
          ? stats.health.failingSince
            ? `failing since ${stats.health.failingSince}`
            : "healthy"
          : `disabled: ${stats.health.disabledReason ?? "by an admin"}`;
        return table(
          ["", stats.window === "24h" ? "LAST 24 HOURS" : "LAST 7 DAYS"],
          [
            ["attempts", String(stats.attempts)],
            ["succeeded", `${stats.succeeded} (${rate} %)`],
            ["failed", `${stats.failed}${classes ? ` — ${classes}` : ""}`],
            ["latency p50 / p95", `${ms(stats.latencyMs.p50)} / ${ms(stats.latencyMs.p95)}`],
            ["last success", stats.lastSuccessAt ?? "—"],
            ["last failure", stats.lastFailureAt ?? "—"],
            ["health", health],
          ],
        );
      });
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
      const s = await cli.api(command).call("POST /v1/subscriptions", {
        body: {
          url: opts.url,
          events: opts.events,
          ...(secret === undefined ? {} : { secret }),
          ...(opts.generateSecret ? { generateSecret: true } : {}),
          ...(opts.disabled ? { enabled: false } : {}),
          ...(opts.description ? { description: opts.description } : {}),
        },
      });
      cli.print(command, s, () => {
        const shown = s.secret !== null && !s.secret.includes("*");
        return `${subscriptionFields(s)}${shown ? "\n\nKeep the secret now: it is not shown again." : ""}`;
      });
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
      if (opts.enable && opts.disable) {
        throw new InvalidArgumentError("--enable and --disable contradict each other");
      }
      const secret = await secretFrom(opts);
      const s = await cli.api(command).call("PATCH /v1/subscriptions/{id}", {
        params: { id },
        body: {
          ...(opts.url ? { url: opts.url } : {}),
          ...(opts.events ? { events: opts.events } : {}),
          ...(secret === undefined ? {} : { secret }),
          ...(opts.removeSecret ? { secret: null } : {}),
          ...(opts.generateSecret ? { generateSecret: true as const } : {}),
          ...(opts.enable ? { enabled: true } : {}),
          ...(opts.disable ? { enabled: false } : {}),
          ...(opts.description !== undefined ? { description: opts.description } : {}),
        },
      });
      const missed = s.missed;
      if (missed && opts.replayMissed) {
        const result = await replayAll(cli, command, {
          subscriptionId: s.id,
          from: missed.from,
          to: missed.to,
          status: ["failed", "canceled"],
        });
        cli.print(
          command,
          { ...s, replayed: result },
          () =>
            `${subscriptionFields(s)}\n\nReplayed ${result.queued} deliveries it missed${problems(result.errors)}.`,
        );
        return;
      }
      const replay = missed
        ? `webhooks deliveries replay --subscription ${s.id} --from ${missed.from} --to ${missed.to} --status failed,canceled`
        : undefined;
      cli.print(command, s, () =>
        replay
          ? `${subscriptionFields(s)}\n\nIt missed deliveries from ${missed?.from}; resend them with:\n  ${replay}`
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
      const s = await cli.api(command).call("POST /v1/subscriptions/{id}/rotate-secret", {
        params: { id },
        body: {
          gracePeriodSeconds: Math.round(opts.grace * 3600),
          ...(secret === undefined ? {} : { secret }),
        },
      });
      cli.print(
        command,
        s,
        () =>
          `${subscriptionFields(s)}\n\nKeep the new secret now: it is not shown again. Until ${s.rotationEndsAt ?? "now"} deliveries carry signatures with both.`,
      );
    });

  subscriptions
    .command("test <id>")
    .description(
      "send a signed example event to the endpoint now and show what it answered (recorded as a test delivery)",
    )
    .addOption(eventOption("the event to send an example of (default: its first)"))
    .action(async (id: string, opts, command: Command) => {
      const result = await cli.api(command).call("POST /v1/subscriptions/{id}/test", {
        params: { id },
        body: opts.event ? { event: opts.event } : {},
      });
      cli.print(command, result, () => testSendSummary(result));
      if (result.status !== "succeeded") process.exitCode = 1;
    });

  subscriptions
    .command("delete <id>")
    .description("delete a subscription; its queued deliveries are cancelled")
    .action(async (id: string, _opts, command: Command) => {
      await cli.api(command).call("DELETE /v1/subscriptions/{id}", { params: { id } });
      cli.print(command, { deleted: id }, () => `Deleted ${id}.`);
    });
}
