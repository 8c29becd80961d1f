#!/usr/bin/env node
/** `npx webhooks …`: the operators' CLI (see cli/program.ts, or `npx webhooks --help`). */
import { CommanderError } from "commander";
import { processIo } from "../cli/output.ts";
import { createProgram } from "../cli/program.ts";
import { stripControls } from "../cli/terminal.ts";
import { ApiError, UnreachableError } from "../shared/http/client.ts";

/** Error text may quote a receiver or the API: printed without control characters. */
function err(text: string): void {
  processIo.err(stripControls(text));
}

const program = createProgram(processIo).exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = report(error);
}

/** Says what went wrong in a line or two and picks the exit code (0 only for help/version). */
function report(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has already printed usage problems; help and --version exit 0.
    if (error.code !== "commander.executeSubCommandAsync" && !/help|version/.test(error.code)) {
      if (error.code === "commander.invalidArgument" && !error.message.startsWith("error:")) {
        processIo.err(`error: ${error.message}`);
      }
    }
    return error.exitCode;
  }
  if (error instanceof ApiError) {
    const { problem } = error;
    err(
      `error: ${problem.title ?? "request failed"} (HTTP ${error.status}): ${problem.detail ?? ""}`.trim(),
    );
    for (const field of problem.errors ?? []) err(`  ${field.field}: ${field.detail}`);
    return 1;
  }
  if (error instanceof UnreachableError) {
    err(`error: ${error.message} Is it running? (npm start)`);
    return 1;
  }
  err(`error: ${(error as Error).message ?? String(error)}`);
  return 1;
}
