/**
 * The resend use cases against the in-memory fakes: one resend, a workspace's redrive, a
 * replay, the operator's drain of the dead-letter queue, the sweep, and the jobs that run them.
 * (test/integration/resend.test.ts runs the same against dynalite and fauxqs, where the
 * stores' conditions are DynamoDB's own.)
 */
import { ulid } from "ulid";
import { describe, expect, it } from "vitest";
import type { EventName } from "../../shared/catalog.ts";
import type {
  Delivery,
  DeliveryMessage,
  DeliveryStatus,
  StoredEvent,
  Subscription,
} from "../../shared/domain.ts";
import { deliveryIdFor, newSubscriptionId } from "../../shared/ids.ts";
import {
  claimed,
  confirmedQueued,
  type Guard,
  guardOf,
  type RunContext,
  withAttempt,
} from "../../shared/lifecycle.ts";
import type { HeldMessage, HoldingQueue } from "../../shared/ports.ts";
import { encodeMessage } from "../../shared/queue/delivery-queue.ts";
import type { ResendJob } from "../../shared/schemas.ts";
import type { OperationalEvents } from "../../shared/use-cases/operational-events.ts";
import {
  deadLetterSummary,
  drainDeadLetterQueue,
  type ResendDeps,
  redriveWorkspace,
  replayWindow,
  resendDelivery,
  runResendJob,
  sweep,
} from "../../shared/use-cases/resend.ts";
import {
  FakeDeliveryStore,
  FakeEventStore,
  FakeQueue,
  FakeWorkspaceStore,
  RecordingLogger,
} from "../helpers/fakes.ts";

const NOW = Date.parse("2026-11-30T12:00:00.000Z");
const WS = "acme";
const LEASE = 2 * 60 * 1000;

/** The fake store, with hooks to play the races a real table sees between a read and a write. */
class RacyDeliveryStore extends FakeDeliveryStore {
  /** Before each write (numbered from 1): false refuses it, a throw fails it. */
  onPut?: (next: Delivery, n: number) => boolean | undefined;
  puts = 0;
  /** Runs before the page's records are read (another job acting in between). */
  beforeGetMany?: () => Promise<void>;
  /** Runs after the sweep's claims are listed, before they are read. */
  afterListClaims?: () => Promise<void>;
  listLimits: number[] = [];
  /** Runs once, after the next read of this delivery (the record changes behind the reader). */
  afterGet?: { id: string; change: () => Promise<void> };

  override async put(next: Delivery, guard: Guard) {
    this.puts++;
    if (this.onPut?.(next, this.puts) === false) return false;
    return super.put(next, guard);
  }
  override async get(workspaceId: string, deliveryId: string) {
    const found = await super.get(workspaceId, deliveryId);
    const hook = this.afterGet;
    if (hook?.id === deliveryId) {
      this.afterGet = undefined;
      await hook.change();
    }
    return found;
  }
  override async getMany(refs: ReadonlyArray<{ workspaceId: string; deliveryId: string }>) {
    const hook = this.beforeGetMany;
    this.beforeGetMany = undefined;
    await hook?.();
    return super.getMany(refs);
  }
  override async listUnqueuedClaims(claimedBefore: string, limit: number) {
    const claims = await super.listUnqueuedClaims(claimedBefore, limit);
    const hook = this.afterListClaims;
    this.afterListClaims = undefined;
    await hook?.();
    return claims;
  }
  override async list(...args: Parameters<FakeDeliveryStore["list"]>) {
    this.listLimits.push(args[2]);
    return super.list(...args);
  }
}

/** The event store, counting how many reads run at once. */
class CountingEventStore extends FakeEventStore {
  reads = 0;
  inFlight = 0;
  maxInFlight = 0;
  failWith: unknown;
  override async get(workspaceId: string, eventId: string) {
    this.reads++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    this.inFlight--;
    if (this.failWith !== undefined) throw this.failWith;
    return super.get(workspaceId, eventId);
  }
}

/** The subscriptions, counting lookups. */
class CountingWorkspaceStore extends FakeWorkspaceStore {
  lookups = 0;
  override async getSubscription(workspaceId: string, id: string) {
    this.lookups++;
    return super.getSubscription(workspaceId, id);
  }
}

/**
 * A holding queue as SQS keeps one: what a reader receives is hidden (held) until removed or
 * released. `redeliver` hands a held message out again with a new receipt handle, as SQS does
 * when a message's visibility runs out.
 */
class FakeHoldingQueue implements HoldingQueue {
  waiting: HeldMessage[] = [];
  held = new Map<string, HeldMessage>();
  removed: string[] = [];
  released: string[] = [];
  receives = 0;
  /** Messages other readers hold (counted by `depth`). */
  heldElsewhere = 0;
  failRelease = false;
  beforeReceive?: (n: number) => void;
  #handles = 0;

  #all = new Map<string, HeldMessage>();

  add(body: string, messageId = `msg-${this.#handles + 1}`): HeldMessage {
    const message = { messageId, receiptHandle: `rh-${++this.#handles}`, body, receiveCount: 1 };
    this.waiting.push(message);
    this.#all.set(messageId, message);
    return message;
  }
  /** The message again, with a new receipt handle (SQS delivers at least once). */
  redeliver(messageId: string) {
    const found = this.#all.get(messageId) as HeldMessage;
    this.waiting.unshift({ ...found, receiptHandle: `rh-${++this.#handles}`, receiveCount: 2 });
  }
  async receive(visibilitySeconds: number) {
    expect(visibilitySeconds).toBe(300);
    this.receives++;
    this.beforeReceive?.(this.receives);
    const batch = this.waiting.splice(0, 10);
    for (const m of batch) this.held.set(m.receiptHandle, m);
    return batch;
  }
  async remove(handles: readonly string[]) {
    for (const handle of handles) this.held.delete(handle);
    this.removed.push(...handles);
  }
  async release(handles: readonly string[]) {
    if (this.failRelease) throw new TypeError("SQS refused the visibility change");
    for (const handle of handles) {
      const message = this.held.get(handle);
      this.held.delete(handle);
      if (message) this.waiting.push(message);
    }
    this.released.push(...handles);
  }
  async depth() {
    return { visible: this.waiting.length, inFlight: this.held.size + this.heldElsewhere };
  }
}

function world() {
  const workspaces = new CountingWorkspaceStore();
  const events = new CountingEventStore();
  const deliveries = new RacyDeliveryStore(workspaces, events);
  const queue = new FakeQueue();
  const deadLetters = new FakeHoldingQueue();
  const stranded = new FakeHoldingQueue();
  const log = new RecordingLogger();
  const exhausted: Array<{ record: Delivery; url: string | undefined }> = [];
  const operational = {
    exhausted: async (record: Delivery, subscription: Pick<Subscription, "url"> | undefined) => {
      exhausted.push({ record, url: subscription?.url });
    },
  } as unknown as OperationalEvents;
  const deps: ResendDeps = { deliveries, events, subscriptions: workspaces, queue, now: () => NOW };
  const jobDeps = {
    ...deps,
    deadLetters,
    stranded,
    maxReceiveCount: 7,
    log,
    operational,
  };
  let events_ = 0;

  async function subscription(patch: Partial<Subscription> = {}): Promise<Subscription> {
    const sub: Subscription = {
      id: newSubscriptionId(),
      workspaceId: WS,
      url: "https://x.example.com/hook",
      events: ["deal.updated"],
      enabled: true,
      description: "",
      secret: null,
      previousSecrets: [],
      createdAt: "2026-11-26T09:00:00.000Z",
      updatedAt: "2026-11-26T09:00:00.000Z",
      ...patch,
    };
    await workspaces.createSubscription(sub);
    return sub;
  }

  async function event(at = NOW - 3_600_000, name: EventName = "deal.updated") {
    const stored: StoredEvent = {
      workspaceId: WS,
      id: `evt_${++events_}`,
      name,
      body: "{}",
      seq: ulid(at),
      receivedAt: new Date(at).toISOString(),
      targets: [],
      requestHash: "h",
    };
    await events.create(stored);
    return stored;
  }

  const run = (
    d: { id: string; eventId: string; subscriptionId: string; event?: EventName },
    generation: number,
    now = NOW - 60_000,
  ): RunContext => ({
    workspaceId: WS,
    deliveryId: d.id,
    eventId: d.eventId,
    event: d.event ?? "deal.updated",
    subscriptionId: d.subscriptionId,
    generation,
    now,
  });

  /** A delivery whose run `generation` ended (failed by default) after one attempt. */
  async function delivery(
    options: {
      at?: number;
      status?: "failed" | "succeeded" | "retrying";
      sub?: Subscription;
      generation?: number;
      test?: boolean;
      owner?: string;
      name?: EventName;
      eventGone?: boolean;
    } = {},
  ) {
    const ev = await event(options.at, options.name);
    const sub = options.sub ?? (await subscription());
    const id = deliveryIdFor(ev.seq, sub.id);
    const generation = options.generation ?? 0;
    const status = options.status ?? "failed";
    const record = withAttempt(
      undefined,
      {
        ...run({ id, eventId: ev.id, subscriptionId: sub.id, event: ev.name }, generation),
        owner: options.owner,
      },
      {
        startedAt: new Date(NOW - 60_000).toISOString(),
        durationMs: 5,
        url: sub.url,
        outcome: status === "succeeded" ? "succeeded" : "failed",
        requestHeaders: {},
        statusCode: status === "succeeded" ? 200 : 500,
      },
      status === "failed"
        ? { status, reason: "exhausted" }
        : status === "retrying"
          ? { status, delaySeconds: 30 }
          : { status },
      status === "succeeded" ? undefined : "HTTP 500",
    );
    const stored = options.test ? { ...record, test: true } : record;
    expect(await deliveries.put(stored, guardOf(undefined))).toBe(true);
    if (options.eventGone) events.events.delete(`${WS}/${ev.id}`);
    const message: DeliveryMessage = {
      v: 1,
      w: WS,
      d: id,
      e: ev.id,
      n: ev.name,
      s: sub.id,
      g: generation,
    };
    return { id, sub, event: ev, message, record: (await deliveries.get(WS, id)) as Delivery };
  }

  /** Turns a delivery's record into a resend claim made `ago` ms before now, never queued. */
  async function claim(id: string, ago: number, generation = 1) {
    const stored = (await deliveries.get(WS, id)) as Delivery;
    const record = claimed(stored, { ...run(stored, generation), now: NOW - ago });
    expect(await deliveries.put(record, guardOf(stored))).toBe(true);
    return record;
  }

  return {
    workspaces,
    events,
    deliveries,
    queue,
    deadLetters,
    stranded,
    log,
    exhausted,
    deps,
    jobDeps,
    subscription,
    event,
    delivery,
    claim,
    run,
  };
}

describe("resendDelivery", () => {
  it("claims the next generation, extends the event, queues one fresh message and marks the claim queued", async () => {
    const w = world();
    const { id, sub, event } = await w.delivery();
    expect(await resendDelivery(WS, id, w.deps)).toEqual({ outcome: "queued", generation: 1 });
    expect(w.queue.sent).toEqual([
      { v: 1, w: WS, d: id, e: event.id, n: "deal.updated", s: sub.id, g: 1 },
    ]);
    expect(w.events.extended).toEqual([`${WS}/${event.id}`]);
    expect(await w.deliveries.get(WS, id)).toMatchObject({
      status: "pending",
      generation: 1,
      runAttempts: 0,
      queued: true,
      claimedAt: new Date(NOW).toISOString(),
      updatedAt: new Date(NOW).toISOString(),
      lastError: "HTTP 500",
    });
    // Off the dead letters and off the sweep's watch list.
    expect((await deadLetterSummary(WS, {}, w.deps)).depth).toBe(0);
    expect(await w.deliveries.listUnqueuedClaims(new Date(NOW + LEASE).toISOString(), 10)).toEqual(
      [],
    );
  });

  it("says not-found, and writes nothing, for a delivery with no record and no message", async () => {
    const w = world();
    expect(await resendDelivery(WS, "dlv_missing", w.deps)).toEqual({ outcome: "not-found" });
    expect(w.queue.sent).toEqual([]);
    expect(w.deliveries.items.size).toBe(0);
  });

  it("trusts the caller's read: record null means there is none, even if the table has one now", async () => {
    const w = world();
    const { id } = await w.delivery();
    expect(await resendDelivery(WS, id, w.deps, { record: null })).toEqual({
      outcome: "not-found",
    });
    expect(w.queue.sent).toEqual([]);
  });

  it("resends from the caller's message when the delivery has no record yet", async () => {
    const w = world();
    const sub = await w.subscription();
    const ev = await w.event(NOW - 1000, "contact.created");
    const message: DeliveryMessage = {
      v: 1,
      w: WS,
      d: deliveryIdFor(ev.seq, sub.id),
      e: ev.id,
      n: "contact.created",
      s: sub.id,
      g: 3,
    };
    expect(await resendDelivery(WS, message.d, w.deps, { record: null, message })).toEqual({
      outcome: "queued",
      generation: 4,
    });
    expect(w.queue.sent).toEqual([{ ...message, g: 4 }]);
    expect(await w.deliveries.get(WS, message.d)).toMatchObject({
      status: "pending",
      generation: 4,
      eventId: ev.id,
      event: "contact.created",
      subscriptionId: sub.id,
      queued: true,
    });
  });

  it("never resends a test send", async () => {
    const w = world();
    const { id } = await w.delivery({ test: true });
    expect(await resendDelivery(WS, id, w.deps)).toEqual({ outcome: "test" });
    expect(w.queue.sent).toEqual([]);
  });

  it("leaves a delivery resent since the caller's copy (stale), and a live claim (in-flight)", async () => {
    const w = world();
    const { id, message } = await w.delivery();
    await resendDelivery(WS, id, w.deps);
    // The caller's copy is generation 0, by its own word or its message's.
    expect(await resendDelivery(WS, id, w.deps, { expectedGeneration: 0 })).toEqual({
      outcome: "stale",
    });
    expect(await resendDelivery(WS, id, w.deps, { message })).toEqual({ outcome: "stale" });
    expect(await resendDelivery(WS, id, w.deps)).toEqual({ outcome: "in-flight" });
    expect(w.queue.sent).toHaveLength(1);
  });

  it("takes over a claim never queued once the default lease (two minutes) has passed", async () => {
    const w = world();
    const { id } = await w.delivery();
    await w.claim(id, LEASE - 1000);
    expect(await resendDelivery(WS, id, w.deps)).toEqual({ outcome: "in-flight" });
    await w.claim(id, LEASE + 1000, 2);
    expect(await resendDelivery(WS, id, w.deps)).toEqual({ outcome: "queued", generation: 3 });
  });

  it("uses the lease it is given", async () => {
    const w = world();
    const { id } = await w.delivery();
    await w.claim(id, 5000);
    expect(await resendDelivery(WS, id, { ...w.deps, leaseMs: 4000 })).toEqual({
      outcome: "queued",
      generation: 2,
    });
  });

  it("refuses while the subscription is disabled or deleted, and when the event is past retention", async () => {
    const w = world();
    const disabled = await w.delivery({ sub: await w.subscription({ enabled: false }) });
    expect(await resendDelivery(WS, disabled.id, w.deps)).toEqual({
      outcome: "subscription-disabled",
    });
    const deleted = await w.delivery();
    await w.workspaces.deleteSubscription(WS, deleted.sub.id);
    expect(await resendDelivery(WS, deleted.id, w.deps)).toEqual({
      outcome: "subscription-deleted",
    });
    const expired = await w.delivery({ eventGone: true });
    expect(await resendDelivery(WS, expired.id, w.deps)).toEqual({ outcome: "expired" });
    expect(w.queue.sent).toEqual([]);
    for (const { id } of [disabled, deleted, expired]) {
      expect((await w.deliveries.get(WS, id))?.status).toBe("failed");
    }
  });

  it("says in-flight when another resend's write wins the race for the claim", async () => {
    const w = world();
    const { id, record } = await w.delivery();
    // The caller's copy is older than the record: the conditional claim fails.
    await w.deliveries.put({ ...record, rev: record.rev + 1 }, guardOf(record));
    expect(await resendDelivery(WS, id, w.deps, { record })).toEqual({ outcome: "in-flight" });
    expect(w.queue.sent).toEqual([]);
  });

  it("gives the claim up when its message cannot be queued, so that a retry claims it at once", async () => {
    const w = world();
    const { id } = await w.delivery();
    w.queue.failEnqueue = 1;
    await expect(resendDelivery(WS, id, w.deps)).rejects.toThrow("SQS is down");
    expect(await w.deliveries.get(WS, id)).toMatchObject({
      status: "pending",
      generation: 1,
      claimedAt: new Date(0).toISOString(),
      queued: false,
    });
    expect(await resendDelivery(WS, id, w.deps)).toEqual({ outcome: "queued", generation: 2 });
  });

  it("still throws the queue's error when giving the claim up fails too", async () => {
    const w = world();
    const { id } = await w.delivery();
    w.queue.failEnqueue = 1;
    w.deliveries.puts = 0;
    w.deliveries.onPut = (_next, n) => {
      if (n === 2) throw new Error("DynamoDB is down");
      return undefined;
    };
    await expect(resendDelivery(WS, id, w.deps)).rejects.toThrow("SQS is down");
  });

  it("is queued even when the claim's confirmation cannot be written (the sweep re-queues it later)", async () => {
    const w = world();
    const { id } = await w.delivery();
    w.deliveries.puts = 0;
    w.deliveries.onPut = (_next, n) => {
      if (n === 2) throw new Error("DynamoDB is down");
      return undefined;
    };
    expect(await resendDelivery(WS, id, w.deps)).toEqual({ outcome: "queued", generation: 1 });
    expect(await w.deliveries.get(WS, id)).toMatchObject({ status: "pending", queued: false });
    expect(w.queue.sent).toHaveLength(1);
  });

  it("looks each subscription up once per job, through the job's cache", async () => {
    const w = world();
    const cache = new Map<string, boolean | null>();
    const sub = await w.subscription();
    const a = await w.delivery({ sub });
    const b = await w.delivery({ sub });
    const cached = await w.delivery({ sub: await w.subscription({ enabled: false }) });
    cache.set(cached.sub.id, true);
    for (const { id } of [a, b, cached]) {
      expect((await resendDelivery(WS, id, w.deps, { subscriptionCache: cache })).outcome).toBe(
        "queued",
      );
    }
    expect(w.workspaces.lookups).toBe(1);
    expect(cache).toEqual(
      new Map<string, boolean | null>([
        [cached.sub.id, true],
        [sub.id, true],
      ]),
    );
    const gone = await w.delivery();
    const off = await w.delivery({ sub: await w.subscription({ enabled: false }) });
    await w.workspaces.deleteSubscription(WS, gone.sub.id);
    await resendDelivery(WS, gone.id, w.deps, { subscriptionCache: cache });
    await resendDelivery(WS, off.id, w.deps, { subscriptionCache: cache });
    expect(cache.get(gone.sub.id)).toBeNull();
    expect(cache.get(off.sub.id)).toBe(false);
  });
});

describe("deadLetterSummary", () => {
  it("counts the dead letters and says how long ago the oldest failed, to the nearest second", async () => {
    const w = world();
    const sub = await w.subscription();
    const oldest = await w.delivery({ sub, at: NOW - 7_200_000 });
    await w.delivery({ sub, at: NOW - 3_600_000 });
    await w.delivery({ status: "succeeded" });
    // The oldest event's delivery failed 90.6 s ago.
    const failedAt = new Date(NOW - 90_600).toISOString();
    await w.deliveries.put(
      { ...oldest.record, rev: oldest.record.rev + 1, failedAt },
      guardOf(oldest.record),
    );
    expect(await deadLetterSummary(WS, {}, w.deps)).toEqual({
      depth: 2,
      depthExact: true,
      oldestFailedAt: failedAt,
      oldestAgeSeconds: 91,
    });
    expect(await deadLetterSummary(WS, { subscriptionId: "sub_other" }, w.deps)).toEqual({
      depth: 0,
      depthExact: true,
      oldestFailedAt: null,
      oldestAgeSeconds: null,
    });
  });

  it("is a floor when the budget ran out, and never gives a negative age (clocks differ)", async () => {
    const w = world();
    const { record } = await w.delivery();
    const failedAt = new Date(NOW + 5000).toISOString();
    await w.deliveries.put({ ...record, rev: record.rev + 1, failedAt }, guardOf(record));
    expect(await deadLetterSummary(WS, {}, w.deps, 1)).toEqual({
      depth: 1,
      depthExact: false,
      oldestFailedAt: failedAt,
      oldestAgeSeconds: 0,
    });
  });

  it("has no age for a dead letter without a failure time", async () => {
    const w = world();
    const { record } = await w.delivery();
    await w.deliveries.put(
      { ...record, rev: record.rev + 1, failedAt: undefined },
      guardOf(record),
    );
    expect(await deadLetterSummary(WS, {}, w.deps)).toMatchObject({
      depth: 1,
      oldestFailedAt: null,
      oldestAgeSeconds: null,
    });
  });
});

describe("redriveWorkspace", () => {
  it("resends a page of dead letters oldest first, reports what it could not resend, and pages on", async () => {
    const w = world();
    const sub = await w.subscription();
    const gone = await w.subscription();
    const orphan = await w.delivery({ sub: gone, at: NOW - 50_000 });
    await w.workspaces.deleteSubscription(WS, gone.id);
    const expired = await w.delivery({ sub, at: NOW - 40_000, eventGone: true });
    const good = await w.delivery({ sub, at: NOW - 30_000 });
    const later = await w.delivery({ sub, at: NOW - 20_000 });
    const page = await redriveWorkspace(WS, {}, { limit: 3 }, w.deps);
    expect(page).toEqual({
      queued: 1,
      skipped: 0,
      errors: [
        { id: orphan.id, reason: "subscription-deleted" },
        { id: expired.id, reason: "expired" },
      ],
      next: good.id,
    });
    expect(w.queue.sent.map((m) => m.d)).toEqual([good.id]);
    expect(await redriveWorkspace(WS, {}, { limit: 3, after: page.next ?? "" }, w.deps)).toEqual({
      queued: 1,
      skipped: 0,
      errors: [],
      next: null,
    });
    expect(w.queue.sent.map((m) => m.d)).toEqual([good.id, later.id]);
  });

  it("honours its filter", async () => {
    const w = world();
    const a = await w.delivery();
    await w.delivery();
    expect(await redriveWorkspace(WS, { subscriptionId: a.sub.id }, { limit: 10 }, w.deps)).toEqual(
      { queued: 1, skipped: 0, errors: [], next: null },
    );
    expect(w.queue.sent.map((m) => m.d)).toEqual([a.id]);
  });

  it("skips what another resend took between the index read and the records' read", async () => {
    const w = world();
    const sub = await w.subscription();
    const taken = await w.delivery({ sub, at: NOW - 30_000 });
    const resentAndDone = await w.delivery({ sub, at: NOW - 20_000 });
    const vanished = await w.delivery({ sub, at: NOW - 10_000 });
    w.deliveries.beforeGetMany = async () => {
      await resendDelivery(WS, taken.id, w.deps);
      // Resent, and its new run already succeeded: the index's copy (generation 0) is stale.
      await w.deliveries.put(
        { ...resentAndDone.record, rev: 99, generation: 1, status: "succeeded" },
        guardOf(resentAndDone.record),
      );
      // Gone from the table (past retention) since the index was read.
      w.deliveries.items.delete(
        [...w.deliveries.items.keys()].find((k) => k.endsWith(vanished.id)) ?? "",
      );
    };
    expect(await redriveWorkspace(WS, {}, { limit: 10 }, w.deps)).toEqual({
      queued: 0,
      skipped: 2,
      errors: [{ id: vanished.id, reason: "not-found" }],
      next: null,
    });
    expect(w.queue.sent.map((m) => m.d)).toEqual([taken.id]);
  });

  it("resends ten at a time, reads each subscription once, and reports internal errors by their class", async () => {
    const w = world();
    const sub = await w.subscription();
    for (let i = 0; i < 25; i++) await w.delivery({ sub, at: NOW - 100_000 + i });
    expect(await redriveWorkspace(WS, {}, { limit: 100 }, w.deps)).toMatchObject({
      queued: 25,
      errors: [],
    });
    expect(w.events.maxInFlight).toBe(10);
    // At most the first ten, which start together before an answer is cached, read the
    // subscription; the other fifteen use the cached copy.
    expect(w.workspaces.lookups).toBeGreaterThanOrEqual(1);
    expect(w.workspaces.lookups).toBeLessThanOrEqual(10);

    const failing = world();
    const one = await failing.delivery({ at: NOW - 2000 });
    const two = await failing.delivery({ at: NOW - 1000 });
    failing.events.failWith = new TypeError("bad");
    expect((await redriveWorkspace(WS, {}, { limit: 10 }, failing.deps)).errors).toEqual([
      { id: one.id, reason: "internal error (TypeError)" },
      { id: two.id, reason: "internal error (TypeError)" },
    ]);
    // Something thrown that is not an Error is reported as one.
    failing.events.failWith = "a string";
    expect((await redriveWorkspace(WS, {}, { limit: 10 }, failing.deps)).errors).toEqual([
      { id: one.id, reason: "internal error (Error)" },
      { id: two.id, reason: "internal error (Error)" },
    ]);
  });
});

describe("replayWindow", () => {
  const t = NOW - 86_400_000;
  const at = (ms: number) => new Date(ms).toISOString();

  it("resends every delivery of the window's events (succeeded ones too), never a test send", async () => {
    const w = world();
    const sub = await w.subscription();
    await w.delivery({ sub, at: t - 1, status: "succeeded" });
    const first = await w.delivery({ sub, at: t, status: "succeeded" });
    await w.delivery({ sub, at: t + 500, test: true, status: "succeeded" });
    const failed = await w.delivery({ sub, at: t + 600 });
    await w.delivery({ sub, at: t + 700, test: true, status: "succeeded" });
    const last = await w.delivery({ at: t + 1000, status: "succeeded" });
    await w.delivery({ sub, at: t + 1001, status: "succeeded" });
    expect(await replayWindow(WS, { from: at(t), to: at(t + 1000), limit: 100 }, w.deps)).toEqual({
      queued: 3,
      skipped: 0,
      errors: [],
      next: null,
    });
    expect(new Set(w.queue.sent.map((m) => m.d))).toEqual(new Set([first.id, failed.id, last.id]));
  });

  it("filters by subscription and status, and pages with `after`", async () => {
    const w = world();
    const sub = await w.subscription();
    const a = await w.delivery({ sub, at: t + 1, status: "succeeded" });
    const b = await w.delivery({ sub, at: t + 2 });
    const c = await w.delivery({ sub, at: t + 3, status: "succeeded" });
    await w.delivery({ at: t + 4, status: "succeeded" });
    const window = {
      from: at(t),
      to: at(t + 10),
      subscriptionId: sub.id,
      statuses: ["succeeded"] as DeliveryStatus[],
      limit: 1,
    };
    // Newest first.
    const page = await replayWindow(WS, window, w.deps);
    expect(page).toEqual({ queued: 1, skipped: 0, errors: [], next: c.id });
    expect(await replayWindow(WS, { ...window, limit: 5, after: c.id }, w.deps)).toEqual({
      queued: 1,
      skipped: 0,
      errors: [],
      next: null,
    });
    expect(w.queue.sent.map((m) => m.d)).toEqual([c.id, a.id]);
    expect((await w.deliveries.get(WS, b.id))?.status).toBe("failed");
  });
});

describe("drainDeadLetterQueue", () => {
  it("moves what it can, drops what is stale or expired, keeps the rest, and releases what it kept", async () => {
    const w = world();
    const movable = await w.delivery();
    const resent = await w.delivery();
    await resendDelivery(WS, resent.id, w.deps);
    const expired = await w.delivery({ eventGone: true });
    const disabled = await w.delivery({ sub: await w.subscription({ enabled: false }) });
    const inFlight = await w.delivery();
    await w.claim(inFlight.id, 1000);
    const m = {
      movable: w.deadLetters.add(encodeMessage(movable.message)),
      resent: w.deadLetters.add(encodeMessage(resent.message)),
      expired: w.deadLetters.add(encodeMessage(expired.message)),
      disabled: w.deadLetters.add(encodeMessage(disabled.message)),
      inFlight: w.deadLetters.add(encodeMessage({ ...inFlight.message, g: 1 })),
      garbage: w.deadLetters.add("garbage"),
    };
    w.deadLetters.heldElsewhere = 2;
    expect(await drainDeadLetterQueue({}, 100, w.jobDeps)).toEqual({
      moved: 1,
      dropped: 2,
      skipped: 3,
      errors: [{ id: disabled.id, reason: "subscription-disabled" }],
      left: 3 + 2,
    });
    expect(w.deadLetters.removed.sort()).toEqual(
      [m.movable, m.resent, m.expired].map((x) => x.receiptHandle).sort(),
    );
    expect(w.deadLetters.released.sort()).toEqual(
      [m.disabled, m.inFlight, m.garbage].map((x) => x.receiptHandle).sort(),
    );
    expect(w.queue.sent).toEqual([
      { ...resent.message, g: 1 },
      { ...movable.message, g: 1 },
    ]);
  });

  it("takes only what matches its filter", async () => {
    const w = world();
    const sub = await w.subscription();
    const wanted = await w.delivery({ sub });
    const otherEvent = await w.delivery({ sub, name: "contact.created" });
    const otherSub = await w.delivery();
    w.deadLetters.add(encodeMessage(wanted.message));
    w.deadLetters.add(encodeMessage(otherEvent.message));
    w.deadLetters.add(encodeMessage(otherSub.message));
    w.deadLetters.add(encodeMessage({ ...wanted.message, w: "someone-else" }));
    const filter = { workspaceId: WS, subscriptionId: sub.id, event: "deal.updated" as const };
    expect(await drainDeadLetterQueue(filter, 100, w.jobDeps)).toEqual({
      moved: 1,
      dropped: 0,
      skipped: 3,
      errors: [],
      left: 3,
    });
    expect(w.queue.sent.map((m) => m.d)).toEqual([wanted.id]);
  });

  it("moves at most `limit`, and stops receiving once it has", async () => {
    const w = world();
    const sub = await w.subscription();
    for (let i = 0; i < 15; i++) {
      w.deadLetters.add(encodeMessage((await w.delivery({ sub })).message));
    }
    expect(await drainDeadLetterQueue({}, 12, w.jobDeps)).toEqual({
      moved: 12,
      dropped: 0,
      skipped: 3,
      errors: [],
      left: 3,
    });
    const again = world();
    const sub2 = await again.subscription();
    for (let i = 0; i < 25; i++) {
      again.deadLetters.add(encodeMessage((await again.delivery({ sub: sub2 })).message));
    }
    expect(await drainDeadLetterQueue({}, 10, again.jobDeps)).toEqual({
      moved: 10,
      dropped: 0,
      skipped: 0,
      errors: [],
      left: 15,
    });
    expect(again.deadLetters.receives).toBe(1);
  });

  it("handles a message SQS hands out twice only once", async () => {
    const w = world();
    const sub = await w.subscription();
    const first = await w.delivery({ sub });
    const second = await w.delivery({ sub });
    w.deadLetters.add(encodeMessage(first.message), "m-1");
    w.deadLetters.beforeReceive = (n) => {
      if (n === 2) {
        w.deadLetters.redeliver("m-1");
        w.deadLetters.add(encodeMessage(second.message), "m-2");
      }
      if (n === 3) w.deadLetters.redeliver("m-2");
    };
    expect(await drainDeadLetterQueue({}, 100, w.jobDeps)).toMatchObject({
      moved: 2,
      dropped: 0,
      skipped: 0,
      errors: [],
    });
    expect(w.queue.sent.map((m) => m.d)).toEqual([first.id, second.id]);
  });

  it("keeps a message whose resend failed, logs why, and says so", async () => {
    const w = world();
    const { id, message } = await w.delivery();
    const entry = w.deadLetters.add(encodeMessage(message));
    w.events.failWith = new RangeError("throttled");
    expect(await drainDeadLetterQueue({}, 100, w.jobDeps)).toEqual({
      moved: 0,
      dropped: 0,
      skipped: 0,
      errors: [{ id, reason: "internal error (RangeError)" }],
      left: 1,
    });
    expect(w.deadLetters.released).toEqual([entry.receiptHandle]);
    expect(w.log.lines).toEqual([
      {
        level: "warn",
        message: "resend failed; the message stays in the dead-letter queue",
        fields: { deliveryId: id, error: "RangeError", detail: "throttled", code: undefined },
      },
    ]);
  });

  it("reports, and survives, a release that fails: the messages reappear on their own", async () => {
    const w = world();
    w.deadLetters.add("garbage");
    w.deadLetters.failRelease = true;
    expect(await drainDeadLetterQueue({}, 100, w.jobDeps)).toMatchObject({ skipped: 1, left: 1 });
    expect(w.log.lines).toEqual([
      {
        level: "warn",
        message: "could not release held messages; they reappear on their own",
        fields: {
          error: "TypeError",
          detail: "SQS refused the visibility change",
          code: undefined,
        },
      },
    ]);
  });

  it("releases what it holds when it fails halfway", async () => {
    const w = world();
    const sub = await w.subscription();
    const garbage = w.deadLetters.add("garbage");
    for (let i = 0; i < 12; i++) {
      w.deadLetters.add(encodeMessage((await w.delivery({ sub })).message));
    }
    w.deliveries.beforeGetMany = async () => {
      throw new Error("DynamoDB is down");
    };
    await expect(drainDeadLetterQueue({}, 100, w.jobDeps)).rejects.toThrow("DynamoDB is down");
    expect(w.deadLetters.released).toEqual([garbage.receiptHandle]);
    expect(w.deadLetters.removed).toEqual([]);
  });
});

describe("sweep", () => {
  async function strandedRun(
    w: ReturnType<typeof world>,
    options: {
      owner?: string;
      status?: "retrying" | "failed" | "succeeded";
      test?: boolean;
      name?: EventName;
    } = {},
  ) {
    return w.delivery({ status: options.status ?? "retrying", ...options });
  }

  it("fails the run of a message SQS gave up on, passes the message on to the dead-letter queue and raises its exhausted event", async () => {
    const w = world();
    const run = await strandedRun(w, { owner: "msg-1" });
    const body = encodeMessage(run.message);
    const received = w.stranded.add(body, "msg-1");
    expect(await sweep(w.jobDeps)).toEqual({
      strandedFailed: 1,
      strandedLeft: 0,
      claimsRequeued: 0,
      claimsCanceled: 0,
      claimsLeft: 0,
    });
    const failed = await w.deliveries.get(WS, run.id);
    expect(failed).toMatchObject({
      status: "failed",
      generation: 0,
      reason: "stranded",
      lastError: "SQS gave up on the message after 7 receives without a finished attempt.",
      failedAt: new Date(NOW).toISOString(),
    });
    expect(w.queue.deadLetters).toEqual([body]);
    expect(w.stranded.removed).toEqual([received.receiptHandle]);
    expect(w.exhausted).toEqual([{ record: failed, url: "https://x.example.com/hook" }]);
  });

  it("fails a run that has no record yet, from the message alone", async () => {
    const w = world();
    const sub = await w.subscription();
    const ev = await w.event(NOW - 1000, "contact.created");
    const message: DeliveryMessage = {
      v: 1,
      w: WS,
      d: deliveryIdFor(ev.seq, sub.id),
      e: ev.id,
      n: "contact.created",
      s: sub.id,
      g: 2,
    };
    w.stranded.add(encodeMessage(message));
    expect(await sweep(w.jobDeps)).toMatchObject({ strandedFailed: 1 });
    expect(await w.deliveries.get(WS, message.d)).toMatchObject({
      status: "failed",
      reason: "stranded",
      generation: 2,
      eventId: ev.id,
      event: "contact.created",
      subscriptionId: sub.id,
    });
  });

  it("speaks for the message that first drove the run when the stranded one was moved lanes", async () => {
    const w = world();
    const run = await strandedRun(w, { owner: "original" });
    w.stranded.add(encodeMessage({ ...run.message, o: "original" }), "moved-copy");
    expect(await sweep(w.jobDeps)).toMatchObject({ strandedFailed: 1, strandedLeft: 0 });
  });

  it("leaves a run another message drives, one that ended, or one resent since; passes on only what failed", async () => {
    const w = world();
    const copy = await strandedRun(w, { owner: "the-original" });
    const done = await strandedRun(w, { status: "succeeded" });
    const failed = await strandedRun(w, { status: "failed" });
    const resent = await w.delivery({ status: "failed", generation: 1 });
    w.stranded.add(encodeMessage(copy.message), "a-copy");
    w.stranded.add(encodeMessage(done.message));
    w.stranded.add(encodeMessage(failed.message));
    w.stranded.add(encodeMessage({ ...resent.message, g: 0 }));
    w.stranded.add("garbage");
    expect(await sweep(w.jobDeps)).toMatchObject({ strandedFailed: 0, strandedLeft: 4 });
    expect(w.queue.deadLetters).toEqual([encodeMessage(failed.message), "garbage"]);
    expect(w.stranded.removed).toHaveLength(5);
    expect(w.exhausted).toEqual([]);
    expect((await w.deliveries.get(WS, copy.id))?.status).toBe("retrying");
  });

  it("sends nothing to the dead-letter queue when nothing is to go there", async () => {
    const w = world();
    const done = await strandedRun(w, { status: "succeeded" });
    w.stranded.add(encodeMessage(done.message));
    w.queue.failDeadLetter = true;
    expect(await sweep(w.jobDeps)).toMatchObject({ strandedLeft: 1 });
  });

  it("raises no exhausted event for a test send or an operational event's delivery, nor without the operational events", async () => {
    const w = world();
    const test = await strandedRun(w, { test: true });
    const operational = await strandedRun(w, { name: "webhook.delivery.exhausted" });
    w.stranded.add(encodeMessage(test.message));
    w.stranded.add(encodeMessage(operational.message));
    expect(await sweep(w.jobDeps)).toMatchObject({ strandedFailed: 2 });
    expect(w.exhausted).toEqual([]);

    const bare = world();
    const run = await strandedRun(bare);
    bare.stranded.add(encodeMessage(run.message));
    expect(await sweep({ ...bare.jobDeps, operational: undefined })).toMatchObject({
      strandedFailed: 1,
    });
  });

  it("raises the exhausted event with no URL when the subscription is gone", async () => {
    const w = world();
    const run = await strandedRun(w);
    await w.workspaces.deleteSubscription(WS, run.sub.id);
    w.stranded.add(encodeMessage(run.message));
    await sweep(w.jobDeps);
    expect(w.exhausted.map((e) => [e.record.id, e.url])).toEqual([[run.id, undefined]]);
  });

  it("handles a message SQS hands out twice only once", async () => {
    const w = world();
    const run = await strandedRun(w);
    w.stranded.add(encodeMessage(run.message), "m-1");
    w.stranded.beforeReceive = (n) => {
      if (n === 2) w.stranded.redeliver("m-1");
    };
    expect(await sweep(w.jobDeps)).toMatchObject({ strandedFailed: 1, strandedLeft: 0 });
    expect(w.queue.deadLetters).toHaveLength(1);
  });

  it("reads the record again when its write loses a race, and gives up after three tries", async () => {
    const w = world();
    const run = await strandedRun(w);
    w.stranded.add(encodeMessage(run.message));
    w.deliveries.puts = 0;
    w.deliveries.onPut = (_next, n) => n > 2;
    expect(await sweep(w.jobDeps)).toMatchObject({ strandedFailed: 1 });
    expect(w.deliveries.puts).toBe(3);

    const stuck = world();
    const other = await strandedRun(stuck);
    stuck.stranded.add(encodeMessage(other.message));
    stuck.deliveries.puts = 0;
    stuck.deliveries.onPut = () => false;
    await expect(sweep(stuck.jobDeps)).rejects.toThrow(
      `delivery ${other.id} kept changing while its stranded message was reconciled`,
    );
    expect(stuck.deliveries.puts).toBe(3);
  });

  it("queues again a resend claim abandoned before its message was sent, after the lease", async () => {
    const w = world();
    const abandoned = await w.delivery();
    await w.claim(abandoned.id, LEASE + 1000);
    const young = await w.delivery();
    await w.claim(young.id, LEASE - 1000);
    expect(await sweep(w.jobDeps)).toEqual({
      strandedFailed: 0,
      strandedLeft: 0,
      claimsRequeued: 1,
      claimsCanceled: 0,
      claimsLeft: 0,
    });
    expect(w.queue.sent.map((m) => [m.d, m.g])).toEqual([[abandoned.id, 2]]);
    expect(await w.deliveries.get(WS, young.id)).toMatchObject({ generation: 1, queued: false });
  });

  it("uses the lease it is given", async () => {
    const w = world();
    const claim = await w.delivery();
    await w.claim(claim.id, 5000);
    expect(await sweep({ ...w.jobDeps, leaseMs: 4000 })).toMatchObject({
      claimsRequeued: 1,
      claimsLeft: 0,
    });
    expect(w.queue.sent.map((m) => m.d)).toEqual([claim.id]);
  });

  it("cancels an abandoned claim there is nothing left to send for, with the reason", async () => {
    const w = world();
    const expired = await w.delivery({ eventGone: true });
    const deleted = await w.delivery();
    await w.workspaces.deleteSubscription(WS, deleted.sub.id);
    const disabled = await w.delivery({ sub: await w.subscription({ enabled: false }) });
    for (const { id } of [expired, deleted, disabled]) await w.claim(id, LEASE + 1000);
    expect(await sweep(w.jobDeps)).toMatchObject({
      claimsRequeued: 0,
      claimsCanceled: 3,
      claimsLeft: 0,
    });
    const canceled = async (id: string) => {
      const record = await w.deliveries.get(WS, id);
      return [record?.status, record?.generation, record?.reason, record?.updatedAt];
    };
    const at = new Date(NOW).toISOString();
    expect(await canceled(expired.id)).toEqual(["canceled", 1, "event_expired", at]);
    expect(await canceled(deleted.id)).toEqual(["canceled", 1, "subscription_deleted", at]);
    expect(await canceled(disabled.id)).toEqual(["canceled", 1, "subscription_disabled", at]);
    expect(w.queue.sent).toEqual([]);
  });

  it("leaves a claim that moved on since it was listed, and counts what is still abandoned", async () => {
    const w = world();
    const confirmed = await w.delivery();
    const claim = await w.claim(confirmed.id, LEASE + 1000);
    const removed = await w.delivery();
    await w.claim(removed.id, LEASE + 1000);
    const raced = await w.delivery();
    await w.claim(raced.id, LEASE + 1000);
    const racedExpired = await w.delivery({ eventGone: true });
    await w.claim(racedExpired.id, LEASE + 1000);
    w.deliveries.afterListClaims = async () => {
      // The resender confirmed its message after all, and the new run already succeeded;
      // another record vanished (past retention).
      const queued = confirmedQueued(claim, NOW);
      await w.deliveries.put(queued, guardOf(claim));
      await w.deliveries.put(
        { ...queued, rev: queued.rev + 1, status: "succeeded" },
        guardOf(queued),
      );
      w.deliveries.items.delete(
        [...w.deliveries.items.keys()].find((k) => k.endsWith(removed.id)) ?? "",
      );
    };
    // Someone else keeps changing these two: the sweep's writes to them fail.
    w.deliveries.onPut = (next) => next.id !== raced.id && next.id !== racedExpired.id;
    expect(await sweep(w.jobDeps)).toMatchObject({
      claimsRequeued: 0,
      claimsCanceled: 0,
      claimsLeft: 1,
    });
    expect(await w.deliveries.get(WS, confirmed.id)).toMatchObject({
      status: "succeeded",
      generation: 1,
    });
    expect(w.queue.sent).toEqual([]);
    expect(w.log.lines).toEqual([]);
  });

  it("takes over a claim under the revision it judged abandoned", async () => {
    const w = world();
    const { id } = await w.delivery();
    const claim = await w.claim(id, LEASE + 1000);
    // Right after the sweep reads it, the claim's message turns up after all and its run
    // succeeds: the sweep's takeover must not resend it.
    w.deliveries.afterGet = {
      id,
      change: async () => {
        await w.deliveries.put(
          { ...confirmedQueued(claim, NOW), rev: claim.rev + 1, status: "succeeded" },
          guardOf(claim),
        );
      },
    };
    expect(await sweep(w.jobDeps)).toMatchObject({ claimsRequeued: 0, claimsLeft: 0 });
    expect((await w.deliveries.get(WS, id))?.status).toBe("succeeded");
    expect(w.queue.sent).toEqual([]);
  });

  it("fills its round of claims (500) with abandoned ones only, never with claims still in their lease", async () => {
    const w = world();
    // Five hundred claims still within their lease, then one abandoned: the young ones must
    // not take the round's room.
    const sub = await w.subscription();
    for (let i = 0; i < 500; i++) {
      const id = deliveryIdFor(ulid(NOW - 10_000), sub.id);
      const young = claimed(undefined, {
        ...w.run({ id, eventId: `evt_young${i}`, subscriptionId: sub.id }, 0),
        now: NOW - 1000,
      });
      await w.deliveries.put(young, guardOf(undefined));
    }
    const abandoned = await w.delivery({ sub });
    await w.claim(abandoned.id, LEASE + 1000);
    expect(await sweep(w.jobDeps)).toMatchObject({ claimsRequeued: 1, claimsLeft: 0 });
    expect(w.queue.sent.map((m) => m.d)).toEqual([abandoned.id]);
  });

  it("logs, and goes on past, a claim it could not take over", async () => {
    const w = world();
    const broken = await w.delivery({ at: NOW - 2000 });
    await w.claim(broken.id, LEASE + 1000);
    w.queue.failEnqueue = 1;
    const fine = await w.delivery({ at: NOW - 1000 });
    await w.claim(fine.id, LEASE + 1000);
    const result = await sweep(w.jobDeps);
    expect(result).toMatchObject({ claimsRequeued: 1 });
    expect(w.log.lines).toEqual([
      {
        level: "warn",
        message: "could not take over an abandoned claim",
        fields: { deliveryId: broken.id, error: "Error", detail: "SQS is down", code: undefined },
      },
    ]);
  });
});

describe("runResendJob", () => {
  it("drains the dead-letter queue with the job's filter", async () => {
    const w = world();
    const sub = await w.subscription();
    const wanted = await w.delivery({ sub });
    const other = await w.delivery();
    w.deadLetters.add(encodeMessage(wanted.message));
    w.deadLetters.add(encodeMessage(other.message));
    const job: ResendJob = { action: "drain", workspaceId: WS, subscriptionId: sub.id };
    expect(await runResendJob(job, w.jobDeps)).toEqual({
      action: "drain",
      moved: 1,
      dropped: 0,
      skipped: 1,
      errors: [],
      left: 1,
    });
    expect(
      await runResendJob({ action: "drain", event: "contact.created", limit: 5 }, w.jobDeps),
    ).toMatchObject({ moved: 0, skipped: 1 });
  });

  it("resends one delivery", async () => {
    const w = world();
    const { id } = await w.delivery();
    expect(
      await runResendJob({ action: "resend", workspaceId: WS, deliveryId: id }, w.jobDeps),
    ).toEqual({ action: "resend", deliveryId: id, outcome: "queued", generation: 1 });
  });

  it("replays a window in pages of at most a hundred, up to its limit", async () => {
    const w = world();
    const sub = await w.subscription();
    const t = NOW - 86_400_000;
    for (let i = 0; i < 130; i++) await w.delivery({ sub, at: t + i, status: "succeeded" });
    const job: ResendJob = {
      action: "replay",
      workspaceId: WS,
      from: new Date(t).toISOString(),
      to: new Date(t + 1000).toISOString(),
      limit: 120,
    };
    expect(await runResendJob(job, w.jobDeps)).toEqual({
      action: "replay",
      queued: 120,
      skipped: 0,
      errors: [],
    });
    expect(w.deliveries.listLimits).toEqual([100, 20]);
    // One lookup of the subscription per page's first ten (started together), then its cache.
    expect(w.workspaces.lookups).toBe(20);
    // Again: the 120 are in flight (skipped), the 10 left are queued; without a limit, until done.
    const { limit: _, ...unlimited } = job;
    expect(await runResendJob(unlimited, w.jobDeps)).toEqual({
      action: "replay",
      queued: 10,
      skipped: 120,
      errors: [],
    });
    expect(w.deliveries.listLimits).toEqual([100, 20, 100, 100]);
  });

  it("counts what a page skipped or could not resend toward the limit", async () => {
    const w = world();
    const sub = await w.subscription();
    const t = NOW - 86_400_000;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await w.delivery({ sub, at: t + i })).id);
    // The two newest: one in flight, one whose event is gone.
    await resendDelivery(WS, ids[4] as string, w.deps);
    w.events.events.delete(`${WS}/evt_4`);
    w.queue.sent = [];
    const job: ResendJob = {
      action: "replay",
      workspaceId: WS,
      from: new Date(t).toISOString(),
      to: new Date(t + 1000).toISOString(),
      status: ["failed", "pending"],
      limit: 3,
    };
    expect(await runResendJob(job, w.jobDeps)).toEqual({
      action: "replay",
      queued: 1,
      skipped: 1,
      errors: [{ id: ids[3], reason: "expired" }],
    });
    expect(w.deliveries.listLimits).toEqual([3]);
  });

  it("sweeps", async () => {
    const w = world();
    expect(await runResendJob({ action: "sweep" }, w.jobDeps)).toEqual({
      action: "sweep",
      strandedFailed: 0,
      strandedLeft: 0,
      claimsRequeued: 0,
      claimsCanceled: 0,
      claimsLeft: 0,
    });
  });
});
