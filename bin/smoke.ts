#!/usr/bin/env node
/**
 * `npm run smoke -- --receiver-url <https url>`: checks a running deployment end to end (see
 * cli/smoke.ts and README "Deploying to AWS"). Keys come from the environment
 * (WEBHOOKS_API_KEY: an admin key; WEBHOOKS_INGEST_KEY), the deployment from --stack or
 * --api-url, the receiver's secret from WEBHOOK_SECRET (what the sample receiver reads).
 */
import { Command, Option } from "commander";
import { apiUrlOption } from "../cli/options.ts";
import { runSmoke, smokeTarget } from "../cli/smoke.ts";
import { describeDeployment } from "../cli/stack.ts";
import { stripControls } from "../cli/terminal.ts";

const program = new Command()
  .name("npm run smoke --")
  .description(
    "Check a running deployment end to end: health, auth refusals, a temporary subscription, a test send, an event and its signed delivery, the dead letters, the resend function; then clean up. Exit code 1 on any failure.",
  )
  .requiredOption(
    "--receiver-url <url>",
    "an https endpoint that answers 2xx (the sample receiver: npm run receiver)",
  )
  .addOption(
    new Option(
      "--stack <name>",
      "the deployment's CloudFormation stack: its API URL and resend function",
    ).env("WEBHOOKS_STACK"),
  )
  .addOption(
    new Option("--api-url <url>", "the HTTP API (default: the stack's, else the local stack)")
      .env("WEBHOOKS_API_URL")
      .argParser(apiUrlOption),
  )
  .addOption(
    new Option(
      "--function <name>",
      "the resend function (default: the stack's, else the local stack's)",
    ).env("WEBHOOKS_RESEND_FUNCTION"),
  )
  .addOption(
    new Option("--timeout <seconds>", "how long to wait for the delivery")
      .default(30)
      .argParser((value) => {
        const seconds = Number(value);
        if (!Number.isFinite(seconds) || seconds <= 0)
          throw new Error("--timeout: a number of seconds");
        return seconds;
      }),
  )
  .showHelpAfterError();

program.parse();
const opts = program.opts<{
  receiverUrl: string;
  stack?: string;
  apiUrl?: string;
  function?: string;
  timeout: number;
}>();
const env = process.env;
const fail = (message: string): never => {
  console.error(`error: ${message}`);
  process.exit(2);
};

const adminKey =
  env.WEBHOOKS_API_KEY || fail("set WEBHOOKS_API_KEY to an admin key of the workspace to test");
const ingestKey =
  env.WEBHOOKS_INGEST_KEY || fail("set WEBHOOKS_INGEST_KEY to an ingest key of the same workspace");
const given = (value: string | undefined, option: string) =>
  value === undefined
    ? undefined
    : { value, fromCommandLine: program.getOptionValueSource(option) === "cli" };
const target = await smokeTarget(
  {
    stack: opts.stack,
    apiUrl: given(opts.apiUrl, "apiUrl"),
    resendFunction: given(opts.function, "function"),
  },
  (stack) => describeDeployment(stack),
).then(
  (found) => ({ ...found, apiUrl: apiUrlOption(found.apiUrl) }),
  (error: Error) => fail(error.message),
);

const checks = await runSmoke({
  ...target,
  adminKey,
  ingestKey,
  receiverUrl: opts.receiverUrl,
  receiverSecret: env.WEBHOOK_SECRET || undefined,
  env,
  deliveryTimeoutMs: opts.timeout * 1000,
  // Receivers' and the API's words, printed without control characters.
  print: (line) => console.log(stripControls(line)),
});
process.exitCode = checks.every((check) => check.ok) ? 0 : 1;
