import { AsyncLocalStorage } from "node:async_hooks";
import type { Delivery, StoredEvent, Subscription } from "../../shared/domain.ts";
import { EndpointGate } from "../../shared/endpoint-gate.ts";
import { AppError } from "../../shared/errors.ts";
import { deliveryIdFor, newSubscriptionId } from "../../shared/ids.ts";
import { type From, isAllowed, NEW } from "../../shared/lifecycle.ts";
import { silentLogger } from "../../shared/log.ts";
import type {
  DeliveryQueue,
  DeliveryStore,
  EventStore,
  HoldingQueue,
  SendRequest,
  SendResult,
  SubscriptionHealth,
  WorkspaceStore,
} from "../../shared/ports.ts";
import { encodeMessage } from "../../shared/queue/delivery-queue.ts";
import { queueSettings } from "../../shared/retry.ts";
import { itemSize } from "../../shared/store/item-size.ts";
import { deliveryToItem, RECORD_BUDGET } from "../../shared/store/items.ts";
import { deliverBatch } from "../../shared/use-cases/deliver-batch.ts";
import { ingestEvent } from "../../shared/use-cases/ingest-event.ts";
import {
  drainDeadLetterQueue,
  type ResendDeps,
  redriveWorkspace,
  replayWindow,
  resendDelivery,
  sweep,
} from "../../shared/use-cases/resend.ts";
import { rotateSecret, updateSubscription } from "../../shared/use-cases/subscriptions.ts";
import { testSecrets } from "../helpers/secrets.ts";
import { SimQueue } from "./sim-queue.ts";

/**
 * The world the model-based suite runs the real use cases in: a virtual clock, simulated SQS
 * queues, receivers whose answers a test sets, a store (the in-memory fake or DynamoDB on
 * dynalite — the same sequences run against both), and faults: AWS calls that fail before
 * they apply, or apply and lose their answer; invocations that crash before a POST, between
 * a POST and its record, or before the event source mapping acknowledges their batch.
 *
 * What it watches, per delivery: every POST a receiver got, every write the store applied
 * (each must be a move of shared/lifecycle.ts's TRANSITIONS, and no succeeded run may be
 * reopened), and the POSTs whose record a fault may have cost.
 */
export interface Backend {
  deliveries: DeliveryStore;
  events: EventStore;
  workspaces: WorkspaceStore & SubscriptionHealth;
  name: string;
}

export type ReceiverMode = "ok" | "fail" | "timeout" | "limited" | "hostile" | "refused";
export type Crash = "before-post" | "after-post" | "before-ack";

export const SCHEDULE = [0, 5, 60, 300];
const VISIBILITY_SECONDS = 60;
const T0 = Date.parse("2026-11-26T10:00:00.000Z");

/** Tolerates the faults this world injects; anything else is a bug and is thrown on. */
function injectedOnly(error: unknown): undefined {
  const e = error as { message?: string; name?: string; cause?: unknown };
  if (e?.name === "InvocationKilled" || e?.message?.startsWith("injected:")) return undefined;
  if (e?.cause) return injectedOnly(e.cause);
  throw error;
}

class Killed extends Error {
  constructor() {
    super("the invocation was stopped");
    this.name = "InvocationKilled";
  }
}

interface Invocation {
  dead: boolean;
  crash?: Crash | undefined;
  /** POSTs made in this invocation, per delivery id. */
  posts: Map<string, number>;
  /** A fault hit a call of this invocation after some of its POSTs: they may go unrecorded. */
  faulted: boolean;
}

/** A small seeded generator (mulberry32): a run replays from its seed. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface FaultRates {
  /** Share of AWS calls that fail before they apply. */
  fail: number;
  /** Share of AWS writes that apply, then lose their answer. */
  lost: number;
}

export class World {
  now = T0;
  readonly clock = () => this.now;
  readonly workspaceId: string;
  readonly stranded: SimQueue;
  readonly dlq: SimQueue;
  readonly main: SimQueue;
  readonly slow: SimQueue;
  /** Endpoints (workspace/subscription) that have no room for another request, for now. */
  readonly busy = new Set<string>();
  readonly gate: EndpointGate;
  readonly receivers = new Map<string, ReceiverMode>();
  /** Per delivery id: POSTs made, and how many were answered 2xx. */
  readonly posts = new Map<string, { count: number; ok: number }>();
  /** Per delivery id: POSTs that may have gone unrecorded (a crash or a failed write after them). */
  readonly slack = new Map<string, number>();
  readonly violations: string[] = [];
  readonly accepted = new Map<string, StoredEvent>();
  readonly subscriptions: string[] = [];
  faults = false;
  /** Delivery ids whose messages crash any invocation that carries them (while faults are on). */
  readonly poisoned = new Set<string>();
  /** What happened in this world, to show the suite covers what it claims to. */
  readonly seen: Record<string, number> = {};
  readonly #rng: () => number;
  readonly #rates: FaultRates;
  readonly #current = new AsyncLocalStorage<Invocation>();
  readonly backend: Backend;
  readonly ports: {
    deliveries: DeliveryStore;
    events: EventStore;
    workspaces: WorkspaceStore & SubscriptionHealth;
    queue: DeliveryQueue;
    deadLetters: HoldingQueue;
    strandedQueue: HoldingQueue;
  };
  readonly maxReceiveCount: number;

  constructor(backend: Backend, workspaceId: string, seed: number, rates: FaultRates) {
    this.backend = backend;
    this.workspaceId = workspaceId;
    this.#rng = random(seed);
    this.#rates = rates;
    // A small redrive count, so that SQS's giving up (and the sweep) happen in short runs.
    this.maxReceiveCount = Math.min(12, queueSettings(SCHEDULE).maxReceiveCount);
    this.stranded = new SimQueue("stranded", this.clock);
    this.dlq = new SimQueue("dlq", this.clock);
    this.main = new SimQueue("main", this.clock, {
      visibilityTimeoutSeconds: VISIBILITY_SECONDS,
      redrive: { target: this.stranded, maxReceiveCount: this.maxReceiveCount },
    });
    this.slow = new SimQueue("slow", this.clock, {
      visibilityTimeoutSeconds: VISIBILITY_SECONDS,
      redrive: { target: this.stranded, maxReceiveCount: this.maxReceiveCount },
    });
    // The gate of the one deliver process: a busy endpoint has no room.
    const world = this;
    this.gate = new (class extends EndpointGate {
      override tryStart(key: string) {
        return world.busy.has(key) ? undefined : super.tryStart(key);
      }
      override worthWaiting(key: string) {
        return !world.busy.has(key) && super.worthWaiting(key);
      }
    })({ slowAfterMs: 2000, onSlow: () => {}, now: this.clock });
    this.main.onRedrive = () => this.note("stranded by SQS");
    this.ports = {
      deliveries: this.#faulty(this.#watched(backend.deliveries), {
        reads: [
          "loadContext",
          "get",
          "getMany",
          "list",
          "listDeadLetters",
          "summarizeDeadLetters",
          "listUnqueuedClaims",
        ],
        writes: ["put"],
      }),
      events: this.#faulty(backend.events, { reads: ["get"], writes: ["create", "extend"] }),
      workspaces: this.#faulty(backend.workspaces, {
        reads: ["getSubscription", "listSubscriptions"],
        writes: [
          "markFailing",
          "countFailure",
          "markHealthy",
          "markSlow",
          "disableFailing",
          "disableGone",
          "updateSubscription",
        ],
      }),
      queue: this.#faulty(this.#queue(), {
        reads: [],
        writes: ["enqueue", "sendToDeadLetter", "sendToSlowLane", "changeVisibility"],
      }),
      deadLetters: this.#holding(this.dlq),
      strandedQueue: this.#holding(this.stranded),
    };
  }

  // ——— Setup ————————————————————————————————————————————————————————————————————————————

  async addSubscription(index: number, events: Subscription["events"]): Promise<string> {
    const id = newSubscriptionId();
    const url = `https://receiver-${index}.example.com/hook`;
    await this.backend.workspaces.createSubscription({
      id,
      workspaceId: this.workspaceId,
      url,
      events,
      enabled: true,
      description: "",
      secret: null,
      previousSecrets: [],
      createdAt: new Date(this.now).toISOString(),
      updatedAt: new Date(this.now).toISOString(),
    });
    this.receivers.set(url, "ok");
    this.subscriptions.push(id);
    return id;
  }

  // ——— The CRM: ingest until accepted ———————————————————————————————————————————————————

  async ingest(event: "contact.created" | "deal.updated", id: string | undefined, repeat: boolean) {
    for (let tries = 0; tries < 50; tries++) {
      try {
        const subscriptions = await this.ports.workspaces.listSubscriptions(this.workspaceId);
        const result = await ingestEvent(
          {
            workspaceId: this.workspaceId,
            subscriptions,
            event,
            data: { id: `rec_${id ?? this.now}` },
            id,
          },
          { events: this.ports.events, queue: this.ports.queue, now: this.clock },
        );
        const stored = await this.backend.events.get(this.workspaceId, result.id);
        if (stored) this.accepted.set(stored.id, stored);
        if (!repeat) return;
        repeat = false; // a CRM that did not hear the answer sends it once more
      } catch (error) {
        // A failed ingest without an id is a new event each time; with an id, the retry is safe.
        if (!(error instanceof AppError)) injectedOnly(error);
        if (id === undefined && tries > 3) return;
      }
    }
  }

  // ——— The event source mapping ————————————————————————————————————————————————————————

  async pump(
    options: {
      crash?: Crash;
      duplicate?: boolean;
      throttle?: boolean;
      deadline?: boolean;
      lane?: "main" | "slow";
    } = {},
  ) {
    const lane = options.lane ?? "main";
    const queue = lane === "main" ? this.main : this.slow;
    const received = queue.receive(10, VISIBILITY_SECONDS).map((m) => ({ ...m, lane }));
    if (received.length === 0 || options.throttle) return; // throttled: received, not invoked
    const batch = [...received];
    if (options.duplicate && received[0]) {
      // SQS hands the same message out twice (at-least-once): its copy has its own handle.
      batch.push({ ...received[0], receiptHandle: `${received[0].receiptHandle}-dup` });
    }
    const poison =
      this.faults &&
      batch.some((record) => this.poisoned.has((JSON.parse(record.body) as { d: string }).d));
    const invocation: Invocation = {
      dead: false,
      crash: poison ? "before-post" : options.crash,
      posts: new Map(),
      faulted: false,
    };
    const result = await this.#current
      .run(invocation, () =>
        deliverBatch(
          batch,
          {
            gate: this.gate,
            store: this.ports.deliveries,
            queue: this.ports.queue,
            sender: { send: (request) => this.#send(request) },
            secrets: testSecrets,
            health: this.ports.workspaces,
            autoDisableAfterMs: 5 * 86_400_000,
            schedule: SCHEDULE,
            requestTimeoutMs: 15_000,
            responseBodyLimit: 4096,
            log: silentLogger,
            now: this.clock,
            random: this.#rng,
          },
          { remainingMs: () => (options.deadline ? 5_000 : 60_000) },
        ).catch((error: unknown) => {
          invocation.dead = true;
          throw error;
        }),
      )
      .catch(injectedOnly);
    if (options.crash === "before-ack") invocation.dead = true;
    if (invocation.dead) this.note(`crash ${options.crash ?? "(injected call)"}`);
    for (const disposition of result?.dispositions.values() ?? []) {
      this.note(`${disposition.kind} ${"reason" in disposition ? disposition.reason : ""}`.trim());
    }
    if (invocation.dead || invocation.faulted || !result) {
      // POSTs of an invocation that died, or whose calls failed after them, may have gone
      // unrecorded (that is what a crash between a POST and its record means).
      for (const [id, count] of invocation.posts) this.#addSlack(id, count);
    }
    if (invocation.dead || !result) return;
    const failed = new Set(result.failures);
    for (const record of batch) {
      if (!failed.has(record.messageId)) queue.delete(record.receiptHandle);
    }
  }

  // ——— Operators and admins ————————————————————————————————————————————————————————————

  resendDeps(): ResendDeps {
    return {
      deliveries: this.ports.deliveries,
      events: this.ports.events,
      subscriptions: this.ports.workspaces,
      queue: this.ports.queue,
      now: this.clock,
    };
  }

  #jobDeps() {
    return {
      ...this.resendDeps(),
      deadLetters: this.ports.deadLetters,
      stranded: this.ports.strandedQueue,
      maxReceiveCount: this.maxReceiveCount,
      log: silentLogger,
    };
  }

  async resend(pick: number) {
    const all = await this.#allDeliveries();
    const target = all[pick % Math.max(1, all.length)];
    if (target)
      await resendDelivery(this.workspaceId, target.id, this.resendDeps()).catch(injectedOnly);
  }

  async redrive() {
    let after: string | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = await redriveWorkspace(
        this.workspaceId,
        {},
        { limit: 5, after },
        this.resendDeps(),
      ).catch(injectedOnly);
      after = page?.next ?? undefined;
      if (!after) return;
    }
  }

  async replay() {
    await replayWindow(
      this.workspaceId,
      {
        from: new Date(T0 - 86_400_000).toISOString(),
        to: new Date(this.now + 86_400_000).toISOString(),
        limit: 10,
      },
      this.resendDeps(),
    ).catch(injectedOnly);
  }

  async drain() {
    await drainDeadLetterQueue({ workspaceId: this.workspaceId }, 100, this.#jobDeps()).catch(
      injectedOnly,
    );
  }

  async sweep() {
    return sweep(this.#jobDeps()).catch(injectedOnly);
  }

  async changeSubscription(
    index: number,
    change: "disable" | "enable" | "delete" | "url" | "rotate",
  ) {
    const id = this.subscriptions[index % this.subscriptions.length] as string;
    const deps = {
      store: this.ports.workspaces,
      secrets: testSecrets,
      policy: { allowLoopbackHttp: false, allowedCidrs: [], allowedPorts: [] },
      maxSubscriptions: 100,
      resolveHost: async () => [],
      now: this.clock,
    };
    try {
      if (change === "delete") await this.ports.workspaces.deleteSubscription(this.workspaceId, id);
      else if (change === "rotate") await rotateSecret(this.workspaceId, id, {}, deps);
      else if (change === "url") {
        const current = await this.backend.workspaces.getSubscription(this.workspaceId, id);
        if (!current) return;
        const url = current.url.includes("-v2")
          ? current.url.replace("-v2", "")
          : current.url.replace(".example", "-v2.example");
        this.receivers.set(url, this.receivers.get(current.url) ?? "ok");
        await updateSubscription(this.workspaceId, id, { url }, deps);
      } else await updateSubscription(this.workspaceId, id, { enabled: change === "enable" }, deps);
    } catch (error) {
      // A 404 for a deleted one, a 409 from a concurrent change, an injected fault: all fine.
      if (!(error instanceof AppError)) injectedOnly(error);
    }
  }

  setReceiver(index: number, mode: ReceiverMode) {
    const url = [...this.receivers.keys()].filter((u) =>
      u.includes(`receiver-${index % this.subscriptions.length}`),
    );
    for (const u of url) this.receivers.set(u, mode);
  }

  /** An endpoint found slow: its deliveries go through the slow lane for ten minutes. */
  async markSlow(index: number) {
    const id = this.subscriptions[index % this.subscriptions.length] as string;
    await this.ports.workspaces
      .markSlow(
        this.workspaceId,
        id,
        new Date(this.now + 600_000).toISOString(),
        new Date(this.now).toISOString(),
      )
      .catch(injectedOnly);
  }

  /** An endpoint with no room for another request (or room again). */
  setBusy(index: number, busy: boolean) {
    const key = `${this.workspaceId}/${this.subscriptions[index % this.subscriptions.length]}`;
    if (busy) this.busy.add(key);
    else this.busy.delete(key);
  }

  /** The messages of one delivery crash every invocation that carries them, for now. */
  async poison(pick: number) {
    const all = await this.#allDeliveries();
    const target = all[pick % Math.max(1, all.length)];
    if (target) this.poisoned.add(target.id);
  }

  advance(seconds: number) {
    this.now += seconds * 1000;
  }

  // ——— Quiescence and the invariants ————————————————————————————————————————————————————

  /**
   * No more faults; the sweep and the event source mapping run until every queue is empty.
   * Receivers keep their answers: a failing one's runs play out to the end of the schedule.
   */
  async settle(stormyRounds = 0): Promise<void> {
    for (let round = 0; round < 2000; round++) {
      // The first rounds keep the faults on (a storm that passes), then calm.
      this.faults = round < stormyRounds;
      await this.sweep();
      for (let pumps = 0; pumps < 100; pumps++) {
        const mainDue = [...this.main.messages.values()].some((m) => m.visibleAt <= this.now);
        const slowDue = [...this.slow.messages.values()].some((m) => m.visibleAt <= this.now);
        if (!mainDue && !slowDue) break;
        if (mainDue) await this.pump();
        if (slowDue) await this.pump({ lane: "slow" });
      }
      const claims = await this.backend.deliveries.listUnqueuedClaims(
        new Date(this.now + 3_600_000).toISOString(),
        1,
      );
      if (
        this.main.size === 0 &&
        this.slow.size === 0 &&
        this.stranded.size === 0 &&
        claims.length === 0
      ) {
        if (this.faults) continue; // the storm has not passed yet
        return;
      }
      const next = [
        this.main.nextVisibleAt(),
        this.slow.nextVisibleAt(),
        this.stranded.size > 0 ? this.now : undefined,
      ]
        .filter((t): t is number => t !== undefined)
        .reduce((a, b) => Math.min(a, b), this.now + 60_000);
      this.now = Math.max(this.now + 1000, next);
    }
    throw new Error("the world did not settle");
  }

  /** Receivers answer 2xx again (but those refused by the destination guard). */
  heal() {
    this.busy.clear();
    for (const url of this.receivers.keys()) {
      if (this.receivers.get(url) !== "refused") this.receivers.set(url, "ok");
    }
  }

  /** After healing: every dead letter redriven, every page. */
  async redriveAll() {
    let after: string | undefined;
    do {
      const page = await redriveWorkspace(
        this.workspaceId,
        {},
        { limit: 100, after },
        this.resendDeps(),
      );
      after = page.next ?? undefined;
    } while (after);
  }

  async check(): Promise<string[]> {
    const problems = [...this.violations];
    const dead = new Set<string>();
    let after: string | undefined;
    do {
      const page = await this.backend.deliveries.listDeadLetters(this.workspaceId, {}, 100, after);
      for (const item of page.items) dead.add(item.id);
      after = page.next;
    } while (after);

    for (const event of this.accepted.values()) {
      for (const subscriptionId of event.targets) {
        const id = deliveryIdFor(event.seq, subscriptionId);
        const record = await this.backend.deliveries.get(this.workspaceId, id);
        const posts = this.posts.get(id) ?? { count: 0, ok: 0 };
        const slack = this.slack.get(id) ?? 0;
        const where = `${id} (event ${event.id} → ${subscriptionId})`;
        if (!record) {
          problems.push(`${where}: no record`);
          continue;
        }
        if (record.status === "succeeded" && posts.ok === 0) {
          problems.push(`${where}: succeeded, but its receiver never answered 2xx`);
        }
        if (record.status === "failed" && !dead.has(id)) {
          problems.push(`${where}: failed, but not listed as a dead letter`);
        }
        if (record.status === "canceled" && !record.reason)
          problems.push(`${where}: canceled without a reason`);
        if (record.status === "pending" || record.status === "retrying") {
          problems.push(`${where}: still ${record.status} with nothing queued`);
        }
        problems.push(...this.#scheduleProblems(record, where));
        if (record.status === "failed" && !this.#inDeadLetterQueue(record)) {
          problems.push(`${where}: failed, but no message of its run is in the dead-letter queue`);
        }
        if (record.attemptCount > posts.count || posts.count > record.attemptCount + slack) {
          problems.push(
            `${where}: ${record.attemptCount} attempts recorded, ${posts.count} POSTs made (${slack} may be unrecorded)`,
          );
        }
      }
    }
    for (const record of await this.#allDeliveries()) {
      if (record.status === "pending" || record.status === "retrying") {
        problems.push(`${record.id}: still ${record.status} after quiescence`);
      }
      const size = itemSize(deliveryToItem(record, 0));
      if (size > RECORD_BUDGET) problems.push(`${record.id}: ${size} bytes, over the budget`);
    }
    if (this.main.size > 0)
      problems.push(`${this.main.size} messages left in the deliveries queue`);
    if (this.slow.size > 0) problems.push(`${this.slow.size} messages left in the slow lane`);
    if (this.stranded.size > 0) problems.push(`${this.stranded.size} messages left stranded`);
    return problems;
  }

  /**
   * The schedule, kept per run: a run's own attempts (not a duplicate message's) are never
   * more than its steps, never early, and a run failed as exhausted made every one of them.
   */
  #scheduleProblems(record: Delivery, where: string): string[] {
    if (record.attemptsOmitted > 0) return []; // a trimmed history says too little
    const problems: string[] = [];
    const generations = new Set(record.attempts.map((a) => a.generation));
    for (const generation of generations) {
      const own = record.attempts.filter((a) => a.generation === generation && !a.duplicate);
      if (own.length > SCHEDULE.length) {
        problems.push(
          `${where}: run ${generation} made ${own.length} attempts, more than its ${SCHEDULE.length} steps`,
        );
      }
      own.forEach((attempt, i) => {
        const previous = own[i - 1];
        if (
          previous?.nextAttemptAt &&
          Date.parse(attempt.startedAt) < Date.parse(previous.nextAttemptAt) - 1500
        ) {
          problems.push(
            `${where}: attempt ${attempt.number} started before it was due (${previous.nextAttemptAt})`,
          );
        }
      });
      const last = own.at(-1);
      if (
        generation === record.generation &&
        record.status === "failed" &&
        record.reason === "exhausted" &&
        own.length !== SCHEDULE.length
      ) {
        problems.push(
          `${where}: failed as exhausted after ${own.length} of ${SCHEDULE.length} attempts (last ${last?.startedAt})`,
        );
      }
    }
    return problems;
  }

  #inDeadLetterQueue(record: Delivery): boolean {
    return [...this.dlq.messages.values()].some((m) => {
      const message = JSON.parse(m.body) as { d?: string; g?: number };
      return message.d === record.id && message.g === record.generation;
    });
  }

  // ——— Plumbing ————————————————————————————————————————————————————————————————————————

  async #allDeliveries(): Promise<Delivery[]> {
    const all: Delivery[] = [];
    let after: string | undefined;
    do {
      const page = await this.backend.deliveries.list(this.workspaceId, {}, 100, after);
      all.push(...page.items);
      after = page.next;
    } while (after);
    return all;
  }

  #addSlack(id: string, count: number) {
    this.slack.set(id, (this.slack.get(id) ?? 0) + count);
  }

  #roll(kind: "fail" | "lost"): boolean {
    return this.faults && this.#rng() < this.#rates[kind];
  }

  note(what: string) {
    this.seen[what] = (this.seen[what] ?? 0) + 1;
  }

  /** The receivers: what each answers, and every POST counted per webhook-id. */
  async #send(request: SendRequest): Promise<SendResult> {
    const invocation = this.#current.getStore();
    if (invocation?.dead) throw new Killed();
    if (invocation?.crash === "before-post") {
      invocation.dead = true;
      throw new Killed();
    }
    const id = request.headers["webhook-id"] ?? "";
    const mode = this.receivers.get(request.url) ?? "fail";
    const posts = this.posts.get(id) ?? { count: 0, ok: 0 };
    posts.count++;
    if (mode === "ok") posts.ok++;
    this.posts.set(id, posts);
    invocation?.posts.set(id, (invocation.posts.get(id) ?? 0) + 1);
    if (invocation?.crash === "after-post") invocation.dead = true;
    switch (mode) {
      case "refused":
        // Counted as an attempt (it is one, and recorded as one), though no byte left.
        return {
          kind: "error",
          errorClass: "destination_refused",
          message: "refused",
          durationMs: 0,
        };
      case "ok":
        return {
          kind: "response",
          status: 200,
          headers: {},
          body: Buffer.from("ok"),
          bodyTruncated: false,
          durationMs: 5,
        };
      case "fail":
        return {
          kind: "response",
          status: 500,
          headers: {},
          body: Buffer.from("no"),
          bodyTruncated: false,
          durationMs: 5,
        };
      case "limited":
        return {
          kind: "response",
          status: 429,
          headers: { "retry-after": "30" },
          body: Buffer.from(""),
          bodyTruncated: false,
          durationMs: 5,
        };
      case "timeout":
        return {
          kind: "error",
          errorClass: "timeout",
          message: "The receiver did not answer in time.",
          durationMs: 15_000,
        };
      case "hostile":
        return {
          kind: "response",
          status: 500,
          headers: Object.fromEntries(
            Array.from({ length: 190 }, (_, i) => [`x-h-${i}`, "€".repeat(200)]),
          ),
          body: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31 + 128) % 256)),
          bodyTruncated: true,
          durationMs: 5,
        };
    }
  }

  /** Store writes as applied, checked against the lifecycle's table of moves. */
  #watched(inner: DeliveryStore): DeliveryStore {
    const world = this;
    return new Proxy(inner, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== "function") return value;
        if (property !== "put") return value.bind(target);
        return async (next: Delivery, guard: Parameters<DeliveryStore["put"]>[1]) => {
          const stored = await inner.get(next.workspaceId, next.id);
          const written = await value.call(target, next, guard);
          if (written) {
            const from: From = stored ? stored.status : NEW;
            const vias = [
              "attempt",
              "cancel",
              "claim",
              "confirm-queued",
              "release",
              "stranded",
              "copy-attempt",
            ] as const;
            if (!vias.some((via) => isAllowed(from, next.status, via))) {
              world.violations.push(
                `${next.id}: ${from} → ${next.status} is not a move of the lifecycle`,
              );
            }
            if (stored && next.generation < stored.generation) {
              world.violations.push(
                `${next.id}: generation went back from ${stored.generation} to ${next.generation}`,
              );
            }
            if (
              stored?.status === "succeeded" &&
              stored.generation === next.generation &&
              next.status !== "succeeded"
            ) {
              world.violations.push(`${next.id}: a succeeded run was reopened as ${next.status}`);
            }
          }
          return written;
        };
      },
    });
  }

  /**
   * A port whose calls can fail as AWS calls do: before they apply (reads and writes), or —
   * writes only — after they applied, with the answer lost. A stopped invocation's calls all fail.
   */
  #faulty<T extends object>(inner: T, methods: { reads: string[]; writes: string[] }): T {
    const world = this;
    return new Proxy(inner, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== "function") return value;
        const name = String(property);
        const isWrite = methods.writes.includes(name);
        if (!isWrite && !methods.reads.includes(name)) return value.bind(target);
        return async (...args: unknown[]) => {
          const invocation = world.#current.getStore();
          if (invocation?.dead) throw new Killed();
          if (world.#roll("fail")) {
            world.note(`${name} failed`);
            if (invocation) invocation.faulted = true;
            throw Object.assign(new Error(`injected: ${name} failed`), {
              name: "ThrottlingException",
            });
          }
          const result = await value.apply(target, args);
          if (isWrite && name !== "changeVisibility" && world.#roll("lost")) {
            world.note(`${name} applied, answer lost`);
            throw Object.assign(new Error(`injected: ${name} applied, its answer lost`), {
              name: "TimeoutError",
            });
          }
          return result;
        };
      },
    }) as T;
  }

  #queue(): DeliveryQueue {
    return {
      enqueue: async (messages) => {
        for (const message of messages) this.main.send(encodeMessage(message));
      },
      sendToSlowLane: async (bodies) => {
        for (const body of bodies) this.slow.send(body);
      },
      changeVisibility: async (changes) => {
        const failed: string[] = [];
        for (const change of changes) {
          const queue = change.lane === "slow" ? this.slow : this.main;
          // Some entries fail inside a 200, as SQS allows.
          if (this.#roll("fail")) {
            this.note("visibility entry failed");
            failed.push(change.receiptHandle);
          } else if (!queue.changeVisibility(change.receiptHandle, change.seconds)) {
            failed.push(change.receiptHandle);
          }
        }
        return failed;
      },
      sendToDeadLetter: async (bodies) => {
        for (const body of bodies) this.dlq.send(body);
      },
    };
  }

  #holding(queue: SimQueue): HoldingQueue {
    return {
      receive: async (visibilitySeconds) =>
        queue.receive(10, visibilitySeconds).map((m) => ({
          messageId: m.messageId,
          receiptHandle: m.receiptHandle,
          body: m.body,
          receiveCount: m.receiveCount,
        })),
      remove: async (handles) => {
        for (const handle of handles) queue.delete(handle);
      },
      release: async (handles) => {
        for (const handle of handles) queue.changeVisibility(handle, 0);
      },
      depth: async () => ({ visible: queue.size, inFlight: 0 }),
    };
  }
}
