import { SingleBar } from "cli-progress";
import type { Command } from "commander";
import { ApiClient } from "../shared/http/client.ts";
import type { StackOutput } from "../shared/stack-outputs.ts";
import { apiKey } from "./options.ts";
import type { Io } from "./output.ts";
import { stripControls } from "./terminal.ts";

/** The options every command inherits from `webhooks`. */
export interface Globals {
  apiUrl: string;
  key?: string;
  keyFile?: string;
  json?: boolean;
  /** A deployment's CloudFormation stack, whose outputs fill in the names not given. */
  stack?: string;
}

/** What the command groups share: where to print, and how to reach the API. */
export interface Cli {
  io: Io;
  env: Record<string, string | undefined>;
  globals(command: Command): Globals;
  /** The typed API client (shared/http/client.ts), with the key the command line chose. */
  api(command: Command): ApiClient;
  /** Prints `answer` as JSON with --json, else `human()` with control characters removed. */
  print(command: Command, answer: unknown, human: () => string): void;
  /** A progress bar on an interactive stderr (never with --json). */
  progress(command: Command, label: string, total?: number): SingleBar | undefined;
  /**
   * A name the command line did not give (`option` still has its default or comes from the
   * environment): the `--stack` deployment's output when there is one, else `value` as is.
   */
  fromStack(command: Command, option: string, output: StackOutput, value: string): string;
  /** The `--stack` deployment's output (read once, before the command runs), if any. */
  stackOutput(output: StackOutput): string | undefined;
  /** Set by the program's hook when --stack is given. */
  deployment?: { output(key: StackOutput): string } | undefined;
}

export function createCli(io: Io, env: Record<string, string | undefined>): Cli {
  const globals = (command: Command) => command.optsWithGlobals() as Globals;
  const cli: Cli = {
    io,
    env,
    globals,
    api: (command) => new ApiClient(globals(command).apiUrl, { key: apiKey(command) }),
    print: (command, answer, human) =>
      io.out(globals(command).json ? JSON.stringify(answer, null, 2) : stripControls(human())),
    progress: (command, label, total = 0) => {
      if (globals(command).json || !io.interactive) return undefined;
      const bar = new SingleBar({
        format: `${label} [{bar}] {value}/{total}`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: true,
      });
      bar.start(total, 0);
      return bar;
    },
    fromStack: (command, option, output, value) =>
      cli.deployment && command.getOptionValueSource(option) !== "cli"
        ? cli.deployment.output(output)
        : value,
    stackOutput: (output) => cli.deployment?.output(output),
  };
  return cli;
}
