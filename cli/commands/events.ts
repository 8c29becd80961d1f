import { type Command, InvalidArgumentError, Option } from "commander";
import { EVENT_CATEGORIES, EVENT_NAMES } from "../../shared/catalog.ts";
import type { Cli } from "../context.ts";
import { isoTime, readInput } from "../options.ts";
import { table } from "../output.ts";

/** `webhooks events …`: post CRM events, and the catalog of them. */
export function eventCommands(program: Command, cli: Cli): void {
  const events = program.command("events").description("post CRM events; the event catalog");

  events
    .command("send <event>")
    .description("post one event (needs an ingest or admin key)")
    .option("--data <json>", "the record, as a JSON object with its id")
    .option("--data-file <path>", "read the record from a file ('-' for stdin)")
    .option("--id <id>", "the event id: makes a retry of this command safe")
    .option("--timestamp <iso>", "when it happened (default: now)", isoTime)
    .action(async (event: string, opts, command: Command) => {
      if (!(EVENT_NAMES as readonly string[]).includes(event)) {
        throw new InvalidArgumentError(
          `unknown event '${event}'; valid: ${EVENT_NAMES.join(", ")}`,
        );
      }
      if (opts.data === undefined && opts.dataFile === undefined) {
        throw new InvalidArgumentError(
          '--data or --data-file is required, e.g. --data \'{"id":"c_1"}\'',
        );
      }
      const raw = opts.dataFile ? await readInput(opts.dataFile) : (opts.data as string);
      try {
        const parsed = JSON.parse(raw);
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
          throw new Error("not an object");
        }
      } catch {
        throw new InvalidArgumentError("--data must be a JSON object");
      }
      // Built as text so the record's numbers reach the API exactly as written.
      const rawBody = `{"event":${JSON.stringify(event)},"data":${raw.trim()}${opts.id ? `,"id":${JSON.stringify(opts.id)}` : ""}${opts.timestamp ? `,"timestamp":${JSON.stringify(opts.timestamp)}` : ""}}`;
      const answer = await cli.api(command).call("POST /v1/events", { rawBody });
      cli.print(
        command,
        answer,
        () => `Accepted ${answer.id} (${answer.event}): ${answer.deliveries} deliveries queued.`,
      );
    });

  events
    .command("types")
    .description("the event catalog: every event and what it means (--json: with its schema)")
    .addOption(new Option("--category <category>", "one category only").choices(EVENT_CATEGORIES))
    .action(async (opts, command: Command) => {
      const answer = await cli
        .api(command)
        .call("GET /v1/event-types", { query: { category: opts.category } });
      cli.print(command, answer, () =>
        table(
          ["EVENT", "CATEGORY", "DESCRIPTION"],
          answer.data.map((e) => [e.name, e.category, e.description]),
        ),
      );
    });
}
