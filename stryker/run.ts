/**
 * `npm run test:mutation [-- --scope security] [-- --fresh]`: runs StrykerJS on one scope
 * (stryker/config.ts), writes the HTML report to reports/mutation/<scope>/index.html, lists
 * the survivors that stryker/equivalent/*.json do not explain, and ends with one line:
 * `mutation score: NN.N%` (reviewed equivalent mutants left out). Exits non-zero below the
 * scope's target, or when a survivor is neither killed nor listed as equivalent
 * (`--allow-unlisted` lets a local run finish anyway).
 */
import { readdirSync, readFileSync } from "node:fs";
import { relative } from "node:path";
import { parseArgs } from "node:util";
import type { MutantResult } from "@stryker-mutator/api/core";
import { type Scope, strykerOptions, TARGETS } from "./config.ts";

// Before Stryker loads: it must find the classic compiler API (see typescript-api.ts).
await import("./typescript-api.ts");
const { Stryker } = await import("@stryker-mutator/core");

const { values } = parseArgs({
  options: {
    scope: { type: "string", default: "shared" },
    fresh: { type: "boolean", default: false },
    "allow-unlisted": { type: "boolean", default: false },
    // While working on one file: `-- --mutate shared/use-cases/resend.ts` (repeatable, Stryker's
    // `file[:start-end]` form) mutates only that, and `STRYKER_TESTS=test/unit/resend.test.ts,…`
    // (stryker/vitest.config.ts) runs only those suites. Neither is a score of the scope.
    mutate: { type: "string", multiple: true },
  },
});
const scope = values.scope as Scope;
if (!(scope in TARGETS)) throw new Error(`--scope must be one of ${Object.keys(TARGETS)}`);
process.env.STRYKER_SCOPE = scope;

/** One reviewed survivor: the mutant, located by file, mutator and code rather than by id. */
export interface Equivalent {
  file: string;
  line: number;
  mutator: string;
  original: string;
  replacement: string;
  reason: string;
}

// One reviewed file per area of the code (stryker/equivalent/<area>.json), so that work on
// different files never edits the same list.
const listDir = new URL("equivalent/", import.meta.url);
const equivalents: Equivalent[] = readdirSync(listDir)
  .filter((name) => name.endsWith(".json"))
  .sort()
  .flatMap((name) => JSON.parse(readFileSync(new URL(name, listDir), "utf8")) as Equivalent[]);

const started = performance.now();
const options = strykerOptions(scope);
if (values.mutate?.length) options.mutate = values.mutate;
// CI never reuses earlier results (it has none anyway: reports/ is not committed).
if (values.fresh || process.env.CI) options.force = true;
const results: MutantResult[] = await new Stryker(options).runMutationTest();
const minutes = (performance.now() - started) / 60_000;

/** The mutated source line(s), as the equivalents file quotes them. */
const sources = new Map<string, string[]>();
function originalCode(result: MutantResult): string {
  let lines = sources.get(result.fileName);
  if (!lines) {
    lines = readFileSync(result.fileName, "utf8").split("\n");
    sources.set(result.fileName, lines);
  }
  const { start, end } = result.location;
  const first = start.line - 1;
  const last = end.line - 1;
  if (first === last) return lines[first]?.slice(start.column - 1, end.column - 1) ?? "";
  return [
    lines[first]?.slice(start.column - 1),
    ...lines.slice(first + 1, last),
    lines[last]?.slice(0, end.column - 1),
  ].join("\n");
}

const where = (result: MutantResult) => relative(process.cwd(), result.fileName);

/**
 * An entry explains a mutant of the same file, mutator and code, on its line or near it: code
 * above it may move it a few lines (an entry more than LINE_DRIFT away is reported STALE with
 * the mutant UNLISTED, to be looked at again), but one entry never stands for the same code
 * elsewhere in the file.
 */
const LINE_DRIFT = 12;
const matches = (result: MutantResult, entry: Equivalent) =>
  entry.file === where(result) &&
  entry.mutator === result.mutatorName &&
  entry.replacement === result.replacement &&
  Math.abs(entry.line - result.location.start.line) <= LINE_DRIFT &&
  entry.original === originalCode(result);

const count = (status: MutantResult["status"]) =>
  results.filter((result) => result.status === status).length;
const killed = count("Killed");
const timedOut = count("Timeout");
const survivors = results.filter((r) => r.status === "Survived" || r.status === "NoCoverage");
const unlisted = survivors.filter((r) => !equivalents.some((entry) => matches(r, entry)));
const inScope = (entry: Equivalent) =>
  results.some((r) => where(r) === entry.file && r.mutatorName === entry.mutator);
const stale = equivalents.filter(
  (entry) => inScope(entry) && !survivors.some((r) => matches(r, entry)),
);

for (const r of unlisted) {
  console.log(
    `UNLISTED ${r.status.toLowerCase()}: ${where(r)}:${r.location.start.line}:${r.location.start.column} ` +
      `${r.mutatorName} ${JSON.stringify(originalCode(r))} -> ${JSON.stringify(r.replacement)}`,
  );
}
for (const entry of stale) {
  console.log(
    `STALE equivalent (no longer survives, remove it): ${entry.file}:${entry.line} ${entry.mutator} ${JSON.stringify(entry.original)} -> ${JSON.stringify(entry.replacement)}`,
  );
}

// The mutation score as the literature defines it: detected mutants over all mutants that are
// not equivalent (killed / (total − equivalent)). Stryker's own score counts the reviewed
// equivalents as survivors; it is printed too.
const detected = killed + timedOut;
const percent = (part: number, whole: number) => (whole === 0 ? 100 : (part / whole) * 100);
const score = percent(detected, detected + unlisted.length);
const strykerScore = percent(detected, detected + survivors.length);
console.log(
  `${scope}: ${results.length} mutants in ${minutes.toFixed(1)} min — killed ${killed}, timed out ${timedOut}, ` +
    `survived ${count("Survived")}, no coverage ${count("NoCoverage")} ` +
    `(${survivors.length - unlisted.length} listed as equivalent, ${unlisted.length} unlisted), ` +
    `type errors ${count("CompileError")}, runtime errors ${count("RuntimeError")}, ignored ${count("Ignored")}; ` +
    `Stryker's score (equivalents counted as survivors) ${strykerScore.toFixed(1)}%; ` +
    `target ${TARGETS[scope]}%; report reports/mutation/${scope}/index.html`,
);
const failed = score < TARGETS[scope] || (unlisted.length > 0 && !values["allow-unlisted"]);
console.log(`mutation score: ${score.toFixed(1)}%`);
process.exitCode = failed ? 1 : 0;
