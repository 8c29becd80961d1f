import { Command, Option } from "commander";
import { STACK_OUTPUTS } from "../shared/stack-outputs.ts";
import { VERSION } from "../shared/version.ts";
import { deliveryCommands } from "./commands/deliveries.ts";
import { deadLetterCommands } from "./commands/dlq.ts";
import { eventCommands } from "./commands/events.ts";
import { keyCommands } from "./commands/keys.ts";
import { subscriptionCommands } from "./commands/subscriptions.ts";
import { createCli, type Globals } from "./context.ts";
import { apiUrlOption } from "./options.ts";
import type { Io } from "./output.ts";
import { describeDeployment } from "./stack.ts";

const LOCAL_API = "http://127.0.0.1:3000";

/**
 * The operators' CLI, one module per command group (cli/commands): each calls the HTTP API
 * through the typed client (shared/http/client.ts) and shows the answer with cli/render.ts;
 * the paths that go straight to AWS (`keys … --table`, `dlq drain`) are in cli/operator.ts.
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
    .addOption(
      new Option(
        "--stack <name>",
        "a deployment's CloudFormation stack (customermates-webhooks-<stage>): its outputs fill in the API URL, the resend function and the table unless given on the command line (AWS credentials and AWS_REGION)",
      ).env("WEBHOOKS_STACK"),
    )
    .showHelpAfterError()
    .configureOutput({
      writeOut: (text) => io.out(text.trimEnd()),
      writeErr: (text) => io.err(text.trimEnd()),
    });

  const cli = createCli(io, env);
  // --stack: read the deployment's outputs once, before any command runs (DescribeStacks).
  program.hook("preAction", async (_program, action) => {
    const { stack } = action.optsWithGlobals() as Globals;
    if (!stack) return;
    cli.deployment = await describeDeployment(stack);
    if (program.getOptionValueSource("apiUrl") !== "cli") {
      program.setOptionValueWithSource(
        "apiUrl",
        apiUrlOption(cli.deployment.output(STACK_OUTPUTS.apiUrl)),
        "config",
      );
    }
  });
  subscriptionCommands(program, cli);
  eventCommands(program, cli);
  deliveryCommands(program, cli);
  deadLetterCommands(program, cli);
  keyCommands(program, cli);
  return program;
}
