import { type Command, InvalidArgumentError, Option } from "commander";
import { CRM_EVENT_NAMES, EVENT_CATEGORIES } from "../../shared/catalog.ts";
import type { Cli } from "../context.ts";
import { isoTime, readInput } from "../options.ts";
import { table } from "../output.ts";

/** `webhooks events …`: post CRM events, and the catalog of them. */
export function eventCommands(program: Command, cli: Cli): void {
  const events = program.command("events").description("post CRM events; the event catalog");

  events
    .command("send [event]")
    .description(
      "post one event, or (--file) every event of a file, a JSON object per line, 100 a request",
    )
    .option("--data <json>", "the record, as a JSON object with its id")
    .option("--data-file <path>", "read the record from a file ('-' for stdin)")
    .option("--id <id>", "the event id: makes a retry of this command safe")
    .option("--timestamp <iso>", "when it happened (default: now)", isoTime)
    .option(
      "--file <path>",
      'events to post in batches: one {"event", "data", "id"?, "timestamp"?} per line (\'-\' for stdin)',
    )
    .action(async (event: string | undefined, opts, command: Command) => {
      if (opts.file !== undefined) {
        if (event !== undefined || opts.data !== undefined || opts.dataFile !== undefined) {
          throw new InvalidArgumentError(
            "--file takes the events from the file: give no event, --data or --data-file",
          );
        }
        return sendFile(cli, command, await readInput(opts.file));
      }
      if (event === undefined) {
        throw new InvalidArgumentError("name the event (e.g. contact.created), or use --file");
      }
      if (!(CRM_EVENT_NAMES as readonly string[]).includes(event)) {
        throw new InvalidArgumentError(
          `unknown event '${event}'; valid: ${CRM_EVENT_NAMES.join(", ")}`,
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

/** Events per request, and how often an event the API could not take yet is tried again. */
const BATCH = 100;
const ROUNDS = 3;

interface Line {
  /** 1-based line number in the file. */
  line: number;
  /** The line as written, so numbers reach the API digit for digit. */
  text: string;
  id: string | undefined;
}

interface Failure {
  line: number;
  id: string | null;
  status: number;
  detail: string;
}

/**
 * `events send --file`: every line an event, posted 100 to a request (`POST /v1/events/batch`).
 * An event the API answers 503 for is sent again (up to three rounds) when it has an `id` —
 * then a repeat is safe; without one it is reported, since a repeat could deliver it twice.
 * Exits non-zero when any event was not accepted.
 */
async function sendFile(cli: Cli, command: Command, text: string): Promise<void> {
  const lines: Line[] = [];
  const unreadable: Failure[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed === "") return;
    try {
      const parsed = JSON.parse(trimmed) as { id?: unknown };
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        throw new Error("not a JSON object");
      }
      lines.push({
        line: i + 1,
        text: trimmed,
        id: typeof parsed.id === "string" ? parsed.id : undefined,
      });
    } catch (error) {
      unreadable.push({
        line: i + 1,
        id: null,
        status: 0,
        detail: `not a JSON object: ${(error as Error).message}`,
      });
    }
  });
  if (lines.length === 0 && unreadable.length === 0) {
    throw new InvalidArgumentError("the file has no events (one JSON object per line)");
  }
  const api = cli.api(command);
  const bar = cli.progress(command, "events", lines.length);
  const failures: Failure[] = [...unreadable];
  let accepted = 0;
  let replayed = 0;
  let deliveries = 0;
  let pending = lines;
  for (let round = 0; round < ROUNDS && pending.length > 0; round++) {
    const again: Line[] = [];
    for (let offset = 0; offset < pending.length; offset += BATCH) {
      const chunk = pending.slice(offset, offset + BATCH);
      const answer = await api.call("POST /v1/events/batch", {
        rawBody: `{"events":[${chunk.map((l) => l.text).join(",")}]}`,
      });
      for (const result of answer.results) {
        const line = chunk[result.index];
        if (!line) continue;
        if (result.status === 202 && "deliveries" in result) {
          accepted++;
          deliveries += result.deliveries;
          if (result.replayed) replayed++;
          bar?.increment();
        } else if (result.status === 503 && line.id !== undefined && round < ROUNDS - 1) {
          again.push(line);
        } else {
          const problem = "problem" in result ? result.problem : undefined;
          const field = problem?.errors?.[0];
          failures.push({
            line: line.line,
            id: result.id,
            status: result.status,
            detail: field
              ? `${field.field.replace(/^events\.\d+\.?/, "") || "event"}: ${field.detail}`
              : (problem?.detail ?? ""),
          });
          bar?.increment();
        }
      }
    }
    pending = again;
    if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 1000 * (round + 1)));
  }
  bar?.stop();
  failures.sort((a, b) => a.line - b.line);
  const summary = { accepted, replayed, deliveries, failed: failures.length, failures };
  cli.print(command, summary, () =>
    [
      `Accepted ${accepted} of ${lines.length + unreadable.length} events (${replayed} already accepted before): ${deliveries} deliveries queued.`,
      ...(failures.length > 0
        ? [
            `${failures.length} not accepted:`,
            table(
              ["LINE", "ID", "STATUS", "WHY"],
              failures.map((f) => [
                String(f.line),
                f.id ?? "",
                f.status ? String(f.status) : "—",
                f.detail,
              ]),
            ),
          ]
        : []),
    ].join("\n"),
  );
  if (failures.length > 0) process.exitCode = 1;
}
