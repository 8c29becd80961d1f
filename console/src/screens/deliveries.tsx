import type { ComponentChildren } from "preact";
import { useEffect, useId, useState } from "preact/hooks";
import type { DeliveryStatus, DeliverySummary, EventType, Subscription } from "../api.ts";
import { Alert, StatusBadge, TableWrap } from "../components.tsx";
import { useConsole } from "../context.ts";
import { STATUSES, shortUrl, when } from "../format.ts";

const WINDOWS: Record<string, { label: string; hours?: number }> = {
  any: { label: "Any time" },
  "1h": { label: "Last hour", hours: 1 },
  "24h": { label: "Last 24 hours", hours: 24 },
  "7d": { label: "Last 7 days", hours: 24 * 7 },
};
const PAGE = 25;

/** Deliveries, newest first: filters, paging, a row opens the delivery. */
export function DeliveriesScreen(props: {
  eventTypes: readonly EventType[] | undefined;
  subscriptions: readonly Subscription[] | undefined;
}) {
  const { client, failure } = useConsole();
  const [status, setStatus] = useState<DeliveryStatus | "">("");
  const [event, setEvent] = useState("");
  const [subscriptionId, setSubscriptionId] = useState("");
  const [span, setSpan] = useState("any");
  // The cursors of the pages before this one (none: the first page).
  const [trail, setTrail] = useState<string[]>([]);
  const [cursor, setCursor] = useState<string>();
  const [page, setPage] = useState<{ data: DeliverySummary[]; nextCursor: string | null }>();
  const [error, setError] = useState<string>();
  const id = useId();

  useEffect(() => {
    let current = true;
    const hours = WINDOWS[span]?.hours;
    setPage(undefined);
    client
      .call("GET /v1/deliveries", {
        query: {
          status: status || undefined,
          event: event || undefined,
          subscriptionId: subscriptionId || undefined,
          from: hours ? new Date(Date.now() - hours * 3_600_000).toISOString() : undefined,
          limit: PAGE,
          cursor,
        },
      })
      .then((answer) => {
        if (!current) return;
        setPage(answer);
        setError(undefined);
      })
      .catch((e) => current && setError(failure(e)));
    return () => {
      current = false;
    };
  }, [client, failure, status, event, subscriptionId, span, cursor]);

  const filter =
    <T,>(set: (value: T) => void) =>
    (value: T) => {
      set(value);
      setTrail([]);
      setCursor(undefined);
    };
  const urls = new Map(props.subscriptions?.map((s) => [s.id, shortUrl(s.url)]));

  return (
    <>
      <div class="screen-head">
        <h1>Deliveries</h1>
      </div>
      <form class="filters" aria-label="Filter deliveries" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for={`${id}-status`}>Status</label>
          <select
            id={`${id}-status`}
            value={status}
            onChange={(e) => filter(setStatus)(e.currentTarget.value as DeliveryStatus | "")}
          >
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for={`${id}-event`}>Event</label>
          <select
            id={`${id}-event`}
            value={event}
            onChange={(e) => filter(setEvent)(e.currentTarget.value)}
          >
            <option value="">Any event</option>
            {props.eventTypes?.map((t) => (
              <option key={t.name} value={t.name}>
                {t.name}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for={`${id}-subscription`}>Subscription</label>
          <select
            id={`${id}-subscription`}
            value={subscriptionId}
            onChange={(e) => filter(setSubscriptionId)(e.currentTarget.value)}
          >
            <option value="">Any subscription</option>
            {props.subscriptions?.map((s) => (
              <option key={s.id} value={s.id}>
                {shortUrl(s.url)}
                {s.description ? ` (${s.description})` : ""}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for={`${id}-time`}>Time</label>
          <select
            id={`${id}-time`}
            value={span}
            onChange={(e) => filter(setSpan)(e.currentTarget.value)}
          >
            {Object.entries(WINDOWS).map(([value, w]) => (
              <option key={value} value={value}>
                {w.label}
              </option>
            ))}
          </select>
        </div>
      </form>
      <Alert message={error} />
      {!page ? (
        <p class="muted">Loading…</p>
      ) : page.data.length === 0 ? (
        <p class="empty">No deliveries match.</p>
      ) : (
        <DeliveryTable deliveries={page.data} urls={urls} label="Deliveries" />
      )}
      <nav class="pager" aria-label="Pages">
        <button
          type="button"
          disabled={trail.length === 0 && cursor === undefined}
          onClick={() => {
            const previous = [...trail];
            setCursor(previous.pop());
            setTrail(previous);
          }}
        >
          Newer
        </button>
        <button
          type="button"
          disabled={!page?.nextCursor}
          onClick={() => {
            if (!page?.nextCursor) return;
            setTrail(cursor === undefined ? trail : [...trail, cursor]);
            setCursor(page.nextCursor);
          }}
        >
          Older
        </button>
      </nav>
    </>
  );
}

export function DeliveryTable(props: {
  deliveries: readonly DeliverySummary[];
  urls: Map<string, string>;
  label: string;
  extra?: { head: string; cell: (delivery: DeliverySummary) => ComponentChildren };
}) {
  return (
    <TableWrap label={props.label}>
      <table class="responsive">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Event</th>
            <th scope="col">Subscription</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last error</th>
            {props.extra ? <th scope="col">{props.extra.head}</th> : null}
          </tr>
        </thead>
        <tbody>
          {props.deliveries.map((delivery) => (
            <tr
              key={delivery.id}
              class="clickable"
              onClick={(e) => {
                if ((e.target as HTMLElement).closest("a, button")) return;
                window.location.hash = `#/deliveries/${delivery.id}`;
              }}
            >
              <td data-label="When">
                <a href={`#/deliveries/${delivery.id}`}>{when(delivery.createdAt)}</a>
              </td>
              <td data-label="Event">
                {delivery.event}
                {delivery.test ? (
                  <>
                    {" "}
                    <StatusBadge status="test" />
                  </>
                ) : null}
              </td>
              <td data-label="Subscription">
                {props.urls.get(delivery.subscriptionId) ?? delivery.subscriptionId}
              </td>
              <td data-label="Status">
                <StatusBadge status={delivery.status} />
              </td>
              <td data-label="Attempts">{delivery.attemptCount}</td>
              <td data-label="Last error">{delivery.lastError ?? "—"}</td>
              {props.extra ? (
                <td data-label={props.extra.head}>{props.extra.cell(delivery)}</td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
