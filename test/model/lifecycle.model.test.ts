import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoDeliveryStore } from "../../shared/store/delivery-store.ts";
import { DynamoEventStore } from "../../shared/store/event-store.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import { type LocalAws, startLocalAws } from "../helpers/aws-local.ts";
import { FakeDeliveryStore, FakeEventStore, FakeWorkspaceStore } from "../helpers/fakes.ts";
import { command, run } from "./commands.ts";
import { type Backend, type FaultRates, World } from "./world.ts";

/**
 * The delivery lifecycle, proved by random sequences (shared/lifecycle.ts, docs/lifecycle.md).
 * Each run: a workspace with three subscriptions, a random sequence of commands (see
 * commands.ts) with AWS faults and crashes injected at random, then quiescence — faults off,
 * receivers healed, the sweep and the event source mapping run until every queue is empty.
 * Then, for every (event, subscription) pair of an accepted event: exactly one of succeeded
 * (and its receiver answered 2xx for that webhook-id), failed (and listed as a dead letter),
 * canceled (with a reason); nothing pending or retrying; no succeeded run reopened, every
 * write a move of the lifecycle; attempts recorded = POSTs made, but for POSTs a crash or a
 * failed write may have cost their record; every record within its byte budget.
 *
 * The same sequences run against the in-memory fake and against DynamoDB (dynalite), so the
 * fake cannot drift from the store. MODEL_RUNS and MODEL_RUNS_DYNALITE set the run counts.
 */
const RUNS = Number(process.env.MODEL_RUNS ?? 120);
const RUNS_DYNALITE = Number(process.env.MODEL_RUNS_DYNALITE ?? 20);
const SEED = process.env.MODEL_SEED === undefined ? undefined : Number(process.env.MODEL_SEED);
/** `npm run test:model` (counts of its own) runs as long as it takes; CI's short run has a bound. */
const LONG_RUN =
  process.env.MODEL_RUNS !== undefined || process.env.MODEL_RUNS_DYNALITE !== undefined;
const bound = (ms: number) => (LONG_RUN ? 6 * 3_600_000 : ms);
/** With MODEL_SEED, replays one counterexample: the `path` fast-check printed with it. */
const PATH = process.env.MODEL_PATH;

const rates: fc.Arbitrary<FaultRates> = fc.record({
  fail: fc.constantFrom(0, 0.02, 0.08, 0.2),
  lost: fc.constantFrom(0, 0.02, 0.08, 0.2),
});

let workspaces = 0;
const tally = { runs: 0, commands: 0, posts: 0, records: 0 };
const seen: Record<string, number> = {};

async function property(backend: () => Promise<Backend>, numRuns: number) {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      rates,
      fc.array(command, { minLength: 5, maxLength: 60 }),
      fc.constantFrom(0, 10, 40),
      async (seed, faultRates, commands, stormy) => {
        const world = new World(await backend(), `model-${++workspaces}`, seed, faultRates);
        await world.addSubscription(0, ["contact.created"]);
        await world.addSubscription(1, ["contact.created", "deal.updated"]);
        await world.addSubscription(2, ["deal.updated"]);
        world.faults = true;
        for (const cmd of commands) await run(world, cmd);
        // Quiescence as the receivers are, through a passing storm of faults: failing runs
        // play out and end as dead letters…
        await world.settle(stormy);
        const problems = await world.check();
        // …then the receivers are fixed and every dead letter redriven.
        world.heal();
        await world.redriveAll();
        await world.settle();
        problems.push(...(await world.check()));
        tally.runs++;
        for (const [what, n] of Object.entries(world.seen)) seen[what] = (seen[what] ?? 0) + n;
        tally.commands += commands.length;
        tally.posts += [...world.posts.values()].reduce((sum, p) => sum + p.count, 0);
        tally.records += [...world.accepted.values()].reduce((sum, e) => sum + e.targets.length, 0);
        expect(problems).toEqual([]);
      },
    ),
    {
      numRuns,
      ...(SEED === undefined ? {} : { seed: SEED }),
      ...(PATH === undefined ? {} : { path: PATH, endOnFailure: true }),
    },
  );
}

describe("the delivery lifecycle, model-based", () => {
  it("holds against the in-memory fake store", { timeout: bound(600_000) }, async () => {
    const before = { ...tally };
    await property(async () => {
      const workspaceStore = new FakeWorkspaceStore();
      const events = new FakeEventStore();
      return {
        name: "fake",
        workspaces: workspaceStore,
        events,
        deliveries: new FakeDeliveryStore(workspaceStore, events),
      };
    }, RUNS);
    console.log(
      `model (fake): ${tally.runs - before.runs} runs, ${tally.commands - before.commands} commands, ${tally.records - before.records} (event, subscription) pairs, ${tally.posts - before.posts} POSTs`,
    );
    console.log(
      `  what happened: ${Object.entries(seen)
        .sort()
        .map(([what, n]) => `${what} ${n}`)
        .join(", ")}`,
    );
  });

  describe("against DynamoDB (dynalite)", () => {
    let aws: LocalAws;
    beforeAll(async () => {
      aws = await startLocalAws();
    });
    afterAll(() => aws.stop());

    it("holds against the DynamoDB store", { timeout: bound(900_000) }, async () => {
      const before = { ...tally };
      const retention = { retentionSeconds: 30 * 86_400 };
      await property(
        async () => ({
          name: "dynalite",
          workspaces: new DynamoWorkspaceStore(aws.table),
          events: new DynamoEventStore(aws.table, retention),
          deliveries: new DynamoDeliveryStore(aws.table, retention),
        }),
        RUNS_DYNALITE,
      );
      console.log(
        `model (dynalite): ${tally.runs - before.runs} runs, ${tally.commands - before.commands} commands, ${tally.records - before.records} (event, subscription) pairs, ${tally.posts - before.posts} POSTs`,
      );
    });
  });
});
