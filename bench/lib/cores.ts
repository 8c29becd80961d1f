import { execFileSync, spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";

/**
 * CPU pinning for the throughput benchmark, with `taskset` (util-linux) where it exists: the
 * client on one core and the receiver on another, so "per core" means one core.
 */
export const canPin = (): boolean =>
  availableParallelism() >= 2 && spawnSync("taskset", ["-V"]).status === 0;

/** Pins every thread of this process to `core`. */
export function pinSelf(core: number): void {
  execFileSync("taskset", ["-a", "-cp", String(core), String(process.pid)], { stdio: "ignore" });
}

/** The command line that runs `args` on `core` (unchanged when pinning is not possible). */
export const onCore = (core: number, args: string[], pin: boolean): string[] =>
  pin ? ["taskset", "-c", String(core), ...args] : args;
