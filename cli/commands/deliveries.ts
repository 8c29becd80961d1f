import { type Command, Option } from "commander";
import { DELIVERY_STATUSES } from "../../shared/domain.ts";
import type { RequestBody } from "../../shared/http/contract.ts";
import type { Cli } from "../context.ts";
import { eventOption, isoTime, list, positive } from "../options.ts";
import { deliveryDetail, deliveryTable, type ItemErrors, problems } from "../render.ts";

/** `webhooks deliveries …`: inspect and resend deliveries. */
export function deliveryCommands(program: Command, cli: Cli): void {
  const deliveries = program.command("deliveries").description("inspect and resend deliveries");

  deliveries
    .command("list")
    .description("newest first")
    .addOption(new Option("--status <status>", "only this status").choices(DELIVERY_STATUSES))
    .option("--subscription <id>", "only this subscription")
    .addOption(eventOption("only this event"))
    .addOption(
      new Option("--test <yes-or-no>", "only test sends (true), or none of them (false)").choices([
        "true",
        "false",
      ]),
    )
    .option("--limit <n>", "how many (1-100)", positive(100), 20)
    .option("--cursor <cursor>", "continue from a previous list")
    .action(async (opts, command: Command) => {
      const answer = await cli.api(command).call("GET /v1/deliveries", {
        query: {
          status: opts.status,
          subscriptionId: opts.subscription,
          event: opts.event,
          test: opts.test,
          limit: opts.limit,
          cursor: opts.cursor,
        },
      });
      cli.print(command, answer, () => deliveryTable(answer));
    });

  deliveries
    .command("show <id>")
    .description("one delivery: payload and every attempt")
    .action(async (id: string, _opts, command: Command) => {
      const d = await cli.api(command).call("GET /v1/deliveries/{id}", { params: { id } });
      cli.print(command, d, () => deliveryDetail(d));
    });

  deliveries
    .command("resend <id>")
    .description(
      "send a delivery again (same id, fresh schedule, history kept); works for any status",
    )
    .action(async (id: string, _opts, command: Command) => {
      const answer = await cli
        .api(command)
        .call("POST /v1/deliveries/{id}/resend", { params: { id } });
      cli.print(command, answer, () => `Queued ${answer.id} again (run ${answer.generation}).`);
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
        cli,
        command,
        {
          from: opts.from,
          to: opts.to,
          ...(opts.subscription ? { subscriptionId: opts.subscription } : {}),
          ...(opts.status ? { status: opts.status } : {}),
        },
        opts.limit,
      );
      cli.print(
        command,
        total,
        () =>
          `Replay queued ${total.queued}, skipped ${total.skipped} (already being resent)${problems(total.errors)}.`,
      );
    });
}

type Window = Omit<RequestBody<"POST /v1/deliveries/replay">, "limit" | "cursor">;

/** Every page of a replay, with a progress bar; `limit` caps how many deliveries it takes. */
export async function replayAll(cli: Cli, command: Command, window: Window, limit?: number) {
  const api = cli.api(command);
  const bar = cli.progress(command, "replay");
  const total = { queued: 0, skipped: 0, errors: [] as ItemErrors };
  const seen = () => total.queued + total.skipped + total.errors.length;
  let cursor: string | undefined;
  do {
    const remaining = limit === undefined ? 100 : Math.min(100, limit - seen());
    if (remaining <= 0) break;
    const page = await api.call("POST /v1/deliveries/replay", {
      body: { ...window, limit: remaining, ...(cursor ? { cursor } : {}) },
    });
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
