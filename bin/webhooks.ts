#!/usr/bin/env node
/** `npx webhooks …`: the operators' CLI (see cli/program.ts, or `npx webhooks --help`). */
import { CommanderError } from "commander";
import { ApiError, UnreachableError } from "../cli/api-client.ts";
import { processIo } from "../cli/output.ts";
import { createProgram } from "../cli/program.ts";

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
    processIo.err(
      `error: ${problem.title ?? "request failed"} (HTTP ${error.status}): ${problem.detail ?? ""}`.trim(),
    );
    for (const field of problem.errors ?? []) processIo.err(`  ${field.field}: ${field.detail}`);
    return 1;
  }
  if (error instanceof UnreachableError) {
    processIo.err(`error: ${error.message}`);
    return 1;
  }
  processIo.err(`error: ${(error as Error).message ?? String(error)}`);
  return 1;
}
