import type { SuccessBody } from "../shared/http/contract.ts";
import { fields, relative, table, truncate } from "./output.ts";

/**
 * How the CLI shows the API's answers to a person (`--json` prints them as they are). The
 * shapes are the API's own (shared/http/contract.ts); nothing here is typed by hand.
 */
type Subscription = SuccessBody<"GET /v1/subscriptions/{id}">;
type Delivery = SuccessBody<"GET /v1/deliveries/{id}">;
/** What a resend job could not resend, item by item (replay and redrive answer the same). */
export type ItemErrors = SuccessBody<"POST /v1/dlq/redrive">["errors"];

export function subscriptionFields(s: Subscription): string {
  return fields([
    ["id", s.id],
    ["url", s.url],
    ["events", s.events.join(", ")],
    ["enabled", s.enabled ? "yes" : "no"],
    ["secret", s.secret ?? "none"],
    ["rotation ends", s.rotationEndsAt],
    ["failing since", s.failingSince],
    ["disabled", s.disabledReason ? `${s.disabledAt}: ${s.disabledReason}` : null],
    ["description", s.description || null],
    ["created", s.createdAt],
    ["updated", s.updatedAt],
  ]);
}

export function subscriptionTable(list: SuccessBody<"GET /v1/subscriptions">): string {
  return table(
    ["ID", "URL", "EVENTS", "ENABLED", "SECRET", "DESCRIPTION"],
    list.data.map((s) => [
      s.id,
      s.url,
      s.events.join(","),
      s.enabled ? "yes" : "no",
      s.secret ?? "none",
      truncate(s.description, 30),
    ]),
  );
}

export function deliveryTable(page: SuccessBody<"GET /v1/deliveries">): string {
  const rows = page.data.map((d) => [
    d.id,
    d.test ? `${d.event} (test)` : d.event,
    d.subscriptionId,
    d.status,
    d.attemptCount,
    truncate(d.lastError, 40),
    relative(d.updatedAt),
  ]);
  const more = page.nextCursor
    ? `\n\nMore: webhooks deliveries list --cursor ${page.nextCursor}`
    : "";
  return `${table(["ID", "EVENT", "SUBSCRIPTION", "STATUS", "ATTEMPTS", "LAST ERROR", "UPDATED"], rows)}${more}`;
}

/** A receiver's answer: its status, the (capped) body and, when asked, the headers. */
function receiverAnswer(
  response: NonNullable<Delivery["attempts"][number]["response"]>,
  label: string,
  withHeaders = false,
): string {
  const body =
    response.bodyEncoding === "base64" ? `(binary, base64) ${response.body}` : response.body;
  const headers = Object.entries(response.headers)
    .map(([name, value]) => `  ${name}: ${value}`)
    .join("\n");
  return `${label} (HTTP ${response.status})${response.bodyTruncated ? ", body truncated" : ""}:\n${body || "(empty body)"}${withHeaders && headers ? `\n\nHeaders:\n${headers}` : ""}`;
}

export function deliveryDetail(d: Delivery): string {
  const head = fields([
    ["id", d.id],
    ["event", `${d.event} (${d.eventId})${d.test ? ", a test send" : ""}`],
    ["subscription", d.subscriptionId],
    ["status", d.status],
    ["attempts", d.attemptCount],
    ["next attempt", d.nextAttemptAt ? `${d.nextAttemptAt} (${relative(d.nextAttemptAt)})` : null],
    ["last error", d.lastError],
  ]);
  const attempts = table(
    ["#", "RUN", "STARTED", "TOOK", "RESULT", "DETAIL"],
    d.attempts.map((a) => [
      a.number,
      a.generation,
      a.startedAt,
      `${a.durationMs}ms`,
      a.response ? `HTTP ${a.response.status}` : a.error?.class,
      truncate(a.response?.body || a.error?.message, 50),
    ]),
  );
  const last = d.attempts.at(-1)?.response;
  const answer = last ? `\n\n${receiverAnswer(last, "Last response")}` : "";
  return `${head}\n\nAttempts:\n${attempts}${answer}\n\nPayload:\n${d.payload ?? "(past retention)"}`;
}

export function testSendSummary(t: SuccessBody<"POST /v1/subscriptions/{id}/test">): string {
  const head = fields([
    ["delivery", t.deliveryId],
    ["event", `${t.event} (${t.eventId})`],
    ["result", t.status],
    ["took", `${t.durationMs}ms`],
    ["error", t.error ? `${t.error.class}: ${t.error.message}` : null],
  ]);
  return t.response ? `${head}\n\n${receiverAnswer(t.response, "Response", true)}` : head;
}

export function deadLetterFields(d: SuccessBody<"GET /v1/dlq">): string {
  return fields([
    ["dead letters", d.depthExact ? d.depth : `at least ${d.depth}`],
    [
      "oldest failed",
      d.oldestFailedAt ? `${d.oldestFailedAt} (${relative(d.oldestFailedAt)})` : null,
    ],
  ]);
}

export function keyTable(keys: SuccessBody<"GET /v1/keys">): string {
  return table(
    ["ID", "NAME", "ROLE", "HINT", "CREATED", "REVOKED"],
    keys.data.map((k) => [k.id, k.name, k.role, k.hint, k.createdAt, k.revokedAt]),
  );
}

export function createdKey(k: SuccessBody<"POST /v1/keys">): string {
  return `${fields([
    ["id", k.id],
    ["role", k.role],
    ["name", k.name],
    ["key", k.key],
  ])}\n\nKeep the key now: it is not shown again.`;
}

/** ", 3 could not be resent: id (reason), …" — or nothing. */
export function problems(errors: Readonly<ItemErrors>): string {
  if (errors.length === 0) return "";
  const shown = errors
    .slice(0, 5)
    .map((e) => `${e.id} (${e.reason})`)
    .join(", ");
  return `; ${errors.length} could not be resent: ${shown}${errors.length > 5 ? ", …" : ""}`;
}
