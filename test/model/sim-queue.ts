/**
 * SQS, simulated on a virtual clock, as the model-based suite needs it: visibility timeouts,
 * receive counts, receipt handles that go stale when a message is received again, SQS's own
 * redrive to a target queue after maxReceiveCount, and the 12-hour limit on how long a
 * receive may hide a message (which fauxqs does not enforce). Nothing here decides anything
 * about deliveries: it is the queue the use cases run against.
 */
export interface SimMessage {
  id: string;
  body: string;
  receiveCount: number;
  visibleAt: number;
  /** The current receipt handle and when it was issued. */
  receipt?: { handle: string; at: number } | undefined;
}

export class SimQueue {
  readonly name: string;
  readonly messages = new Map<string, SimMessage>();
  readonly clock: () => number;
  onRedrive?: () => void;
  readonly #redrive: { target: SimQueue; maxReceiveCount: number } | undefined;
  readonly #visibilityTimeout: number;
  #seq = 0;

  constructor(
    name: string,
    clock: () => number,
    options: {
      visibilityTimeoutSeconds?: number;
      redrive?: { target: SimQueue; maxReceiveCount: number };
    } = {},
  ) {
    this.name = name;
    this.clock = clock;
    this.#redrive = options.redrive;
    this.#visibilityTimeout = options.visibilityTimeoutSeconds ?? 30;
  }

  send(body: string, id?: string): string {
    const messageId = id ?? `${this.name}-${++this.#seq}`;
    this.messages.set(messageId, {
      id: messageId,
      body,
      receiveCount: 0,
      visibleAt: this.clock(),
    });
    return messageId;
  }

  /** Up to `max` visible messages, oldest visibility first; each is hidden for the timeout. */
  receive(max = 10, visibilitySeconds = this.#visibilityTimeout) {
    const now = this.clock();
    const visible = [...this.messages.values()]
      .filter((m) => m.visibleAt <= now)
      .sort((a, b) => a.visibleAt - b.visibleAt)
      .slice(0, max);
    const received: Array<{
      messageId: string;
      receiptHandle: string;
      body: string;
      receiveCount: number;
      receivedAt: number;
    }> = [];
    for (const message of visible) {
      message.receiveCount++;
      if (this.#redrive && message.receiveCount > this.#redrive.maxReceiveCount) {
        // SQS moves it aside, keeping its id and body.
        this.messages.delete(message.id);
        this.#redrive.target.send(message.body, message.id);
        this.onRedrive?.();
        continue;
      }
      const handle = `${message.id}#${message.receiveCount}`;
      message.receipt = { handle, at: now };
      message.visibleAt = now + visibilitySeconds * 1000;
      received.push({
        messageId: message.id,
        receiptHandle: handle,
        body: message.body,
        receiveCount: message.receiveCount,
        receivedAt: now,
      });
    }
    return received;
  }

  #byHandle(handle: string): SimMessage | undefined {
    const id = handle.split("#")[0] ?? "";
    const message = this.messages.get(id);
    return message?.receipt?.handle === handle ? message : undefined;
  }

  delete(handle: string): boolean {
    const message = this.#byHandle(handle);
    if (!message) return false;
    this.messages.delete(message.id);
    return true;
  }

  /** False when the handle is stale or the change would hide it past 12 h from its receive. */
  changeVisibility(handle: string, seconds: number): boolean {
    const message = this.#byHandle(handle);
    if (!message?.receipt) return false;
    const now = this.clock();
    if (now + seconds * 1000 > message.receipt.at + 12 * 3_600_000) return false;
    message.visibleAt = now + seconds * 1000;
    return true;
  }

  /** When the next hidden message becomes visible (undefined: none waiting). */
  nextVisibleAt(): number | undefined {
    let next: number | undefined;
    for (const message of this.messages.values()) {
      if (next === undefined || message.visibleAt < next) next = message.visibleAt;
    }
    return next;
  }

  get size(): number {
    return this.messages.size;
  }
}
