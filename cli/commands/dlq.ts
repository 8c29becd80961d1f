import { type Command, Option } from "commander";
import type { EventName } from "../../shared/catalog.ts";
import { STACK_OUTPUTS } from "../../shared/stack-outputs.ts";
import type { Cli } from "../context.ts";
import { invokeResend } from "../operator.ts";
import { eventOption, positive } from "../options.ts";
import { deadLetterFields, type ItemErrors, problems } from "../render.ts";

const DEFAULT_RESEND_FUNCTION = "webhooks-resend";

/**
 * `webhooks dlq …`: a workspace's dead letters through the API (`status`, `redrive`), and the
 * operators' drain of the SQS dead-letter queue through the resend function (`drain`).
 */
export function deadLetterCommands(program: Command, cli: Cli): void {
  const dlq = program
    .command("dlq")
    .description("the dead-letter queue: deliveries that ran out of attempts");

  dlq
    .command("status")
    .description("how many of the workspace's deliveries wait in the dead-letter queue")
    .option("--subscription <id>", "only this subscription")
    .addOption(eventOption("only this event"))
    .action(async (opts, command: Command) => {
      const answer = await cli
        .api(command)
        .call("GET /v1/dlq", { query: { subscriptionId: opts.subscription, event: opts.event } });
      cli.print(command, answer, () => deadLetterFields(answer));
    });

  dlq
    .command("redrive")
    .description(
      "resend the workspace's dead letters with a fresh schedule (safe to run twice at once)",
    )
    .option("--subscription <id>", "only this subscription")
    .addOption(eventOption("only this event"))
    .option("--limit <n>", "at most this many", positive(1_000_000))
    .action(async (opts, command: Command) => {
      const api = cli.api(command);
      const filter = {
        ...(opts.subscription ? { subscriptionId: opts.subscription as string } : {}),
        ...(opts.event ? { event: opts.event as EventName } : {}),
      };
      const before = await api.call("GET /v1/dlq", { query: filter });
      const limit: number = opts.limit ?? Number.POSITIVE_INFINITY;
      // A depth that is only a floor (beyond the API's count budget) is no place to stop:
      // the cursor says when every dead letter has been seen.
      const goal = before.depthExact ? Math.min(before.depth, limit) : limit;
      const barTotal = Math.min(goal, Math.max(before.depth, 1));
      const bar =
        goal > 0 && before.depth > 0 ? cli.progress(command, "redrive", barTotal) : undefined;
      const total = {
        moved: 0,
        skipped: 0,
        errors: [] as ItemErrors,
        left: before.depth,
        leftExact: before.depthExact,
      };
      let cursor: string | undefined;
      const seen = () => total.moved + total.skipped + total.errors.length;
      do {
        const page = await api.call("POST /v1/dlq/redrive", {
          body: {
            ...filter,
            limit: Math.max(1, Math.min(100, goal - total.moved)),
            ...(cursor ? { cursor } : {}),
          },
        });
        total.moved += page.moved;
        total.skipped += page.skipped;
        total.errors.push(...page.errors);
        total.left = page.left;
        total.leftExact = page.leftExact;
        if (seen() > barTotal && seen() <= goal) bar?.setTotal(seen());
        bar?.update(Math.min(goal, seen()));
        cursor = page.nextCursor ?? undefined;
      } while (cursor && total.moved < goal);
      bar?.stop();
      cli.print(
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
    .addOption(eventOption("only this event"))
    .option("--limit <n>", "at most this many", positive(10_000), 1000)
    .addOption(
      new Option(
        "--function <name>",
        "the resend function (with --stack: the stack's, unless given here)",
      )
        .env("WEBHOOKS_RESEND_FUNCTION")
        .default(DEFAULT_RESEND_FUNCTION),
    )
    .action(async (opts, command: Command) => {
      const name = cli.fromStack(
        command,
        "function",
        STACK_OUTPUTS.resendFunction,
        opts.function as string,
      );
      const result = await invokeResend(cli.globals(command), cli.env, name, {
        action: "drain",
        limit: opts.limit,
        ...(opts.workspace ? { workspaceId: opts.workspace } : {}),
        ...(opts.subscription ? { subscriptionId: opts.subscription } : {}),
        ...(opts.event ? { event: opts.event } : {}),
      });
      cli.print(
        command,
        result,
        () =>
          `Moved ${result.moved}, dropped ${result.dropped} (already resent or expired), skipped ${result.skipped}${problems(result.errors)}; ${result.left} left in the queue.`,
      );
    });
}
