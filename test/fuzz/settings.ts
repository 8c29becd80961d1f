/**
 * How long the property-based suites run. CI runs them briefly, with a fixed seed so a failure
 * reproduces; `npm run test:fuzz` runs them long (FUZZ_RUNS, default 20,000 there), and
 * FUZZ_SEED replays a reported failure.
 */
export const fuzz = {
  numRuns: Number(process.env.FUZZ_RUNS ?? 200),
  seed: Number(process.env.FUZZ_SEED ?? 20_261_126),
};
