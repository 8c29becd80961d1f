import fc from "fast-check";
import type { Crash, ReceiverMode, World } from "./world.ts";

/**
 * What happens to the world, as data fast-check generates and shrinks: the CRM's events
 * (with an id or without, repeated when it did not hear the answer), the event source
 * mapping's receives (crashing at each point, duplicated, throttled, short of time), time
 * passing, receivers changing their answers, admins changing subscriptions, operators
 * resending, redriving, replaying, draining and sweeping — and two of these at once.
 */
export type Command =
  | { k: "ingest"; event: "contact.created" | "deal.updated"; id: number | null; repeat: boolean }
  | {
      k: "pump";
      crash: Crash | null;
      duplicate: boolean;
      throttle: boolean;
      deadline: boolean;
      lane: "main" | "slow";
    }
  | { k: "slow"; sub: number }
  | { k: "busy"; sub: number; on: boolean }
  | { k: "advance"; seconds: number }
  | { k: "receiver"; sub: number; mode: ReceiverMode }
  | { k: "subscription"; sub: number; change: "disable" | "enable" | "delete" | "url" | "rotate" }
  | { k: "resend"; pick: number }
  | { k: "poison"; pick: number }
  | { k: "redrive" }
  | { k: "replay" }
  | { k: "drain" }
  | { k: "sweep" }
  | { k: "together"; a: Command; b: Command };

const ingest = fc.record({
  k: fc.constant("ingest" as const),
  event: fc.constantFrom("contact.created" as const, "deal.updated" as const),
  id: fc.option(fc.integer({ min: 0, max: 30 }), { nil: null }),
  repeat: fc.boolean(),
});

const pump = fc.record({
  k: fc.constant("pump" as const),
  crash: fc.option(fc.constantFrom<Crash>("before-post", "after-post", "before-ack"), {
    nil: null,
    freq: 3,
  }),
  duplicate: fc.boolean(),
  throttle: fc.integer({ min: 0, max: 9 }).map((n) => n < 2),
  deadline: fc.integer({ min: 0, max: 9 }).map((n) => n < 1),
  lane: fc.constantFrom("main" as const, "main" as const, "slow" as const),
});

const simple: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: ingest },
  { weight: 10, arbitrary: pump },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant("advance" as const),
      seconds: fc.constantFrom(1, 5, 30, 61, 120, 400),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("receiver" as const),
      sub: fc.nat(5),
      mode: fc.constantFrom<ReceiverMode>("ok", "fail", "timeout", "limited", "hostile", "refused"),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant("subscription" as const),
      sub: fc.nat(5),
      change: fc.constantFrom(
        "disable" as const,
        "enable" as const,
        "delete" as const,
        "url" as const,
        "rotate" as const,
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("resend" as const), pick: fc.nat(50) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("slow" as const), sub: fc.nat(5) }) },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant("busy" as const), sub: fc.nat(5), on: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("poison" as const), pick: fc.nat(50) }) },
  { weight: 1, arbitrary: fc.constant({ k: "redrive" as const }) },
  { weight: 1, arbitrary: fc.constant({ k: "replay" as const }) },
  { weight: 1, arbitrary: fc.constant({ k: "drain" as const }) },
  { weight: 1, arbitrary: fc.constant({ k: "sweep" as const }) },
);

export const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: simple },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant("together" as const), a: simple, b: simple }),
  },
);

export async function run(world: World, cmd: Command): Promise<void> {
  switch (cmd.k) {
    case "ingest":
      return world.ingest(cmd.event, cmd.id === null ? undefined : `crm-${cmd.id}`, cmd.repeat);
    case "pump":
      return world.pump({
        ...(cmd.crash ? { crash: cmd.crash } : {}),
        duplicate: cmd.duplicate,
        throttle: cmd.throttle,
        deadline: cmd.deadline,
        lane: cmd.lane,
      });
    case "slow":
      return world.markSlow(cmd.sub);
    case "busy":
      return world.setBusy(cmd.sub, cmd.on);
    case "advance":
      return world.advance(cmd.seconds);
    case "receiver":
      return world.setReceiver(cmd.sub, cmd.mode);
    case "subscription":
      return world.changeSubscription(cmd.sub, cmd.change);
    case "resend":
      return world.resend(cmd.pick);
    case "poison":
      return world.poison(cmd.pick);
    case "redrive":
      return world.redrive();
    case "replay":
      return world.replay();
    case "drain":
      return world.drain();
    case "sweep":
      await world.sweep();
      return;
    case "together":
      await Promise.all([run(world, cmd.a), run(world, cmd.b)]);
      return;
  }
}
