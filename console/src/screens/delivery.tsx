import { useCallback, useEffect, useState } from "preact/hooks";
import type { Attempt, Delivery, Subscription } from "../api.ts";
import { Alert, CopyButton, StatusBadge, TableWrap } from "../components.tsx";
import { useConsole } from "../context.ts";
import { prettyJson, reasonText, shortUrl, when } from "../format.ts";

/** How often a delivery still under way is read again. */
const REFRESH_MS = 2000;

/** One delivery: its payload, every attempt, and Resend. */
export function DeliveryScreen(props: {
  id: string;
  subscriptions: readonly Subscription[] | undefined;
}) {
  const { client, can, failure, notify } = useConsole();
  const [delivery, setDelivery] = useState<Delivery>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      setDelivery(await client.call("GET /v1/deliveries/{id}", { params: { id: props.id } }));
      setError(undefined);
    } catch (e) {
      setError(failure(e));
    }
  }, [client, failure, props.id]);

  useEffect(() => {
    void load();
  }, [load]);

  // While it is under way, follow it: a resend waiting for its first attempt, or a retry due
  // within two minutes (a later one is not worth reading every two seconds for).
  const soon =
    delivery?.status === "pending" ||
    (delivery?.status === "retrying" &&
      Date.parse(delivery.nextAttemptAt ?? "") - Date.now() < 120_000);
  useEffect(() => {
    if (!soon) return;
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [soon, load]);

  const subscription = props.subscriptions?.find((s) => s.id === delivery?.subscriptionId);

  return (
    <>
      <p>
        <a href="#/deliveries">← Deliveries</a>
      </p>
      <div class="screen-head">
        <h1>Delivery</h1>
        {delivery && can("resend") && !delivery.test ? (
          <button
            type="button"
            class="primary"
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              try {
                const queued = await client.call("POST /v1/deliveries/{id}/resend", {
                  params: { id: props.id },
                });
                notify(`Resend queued (run ${queued.generation + 1}).`);
                await load();
              } catch (e) {
                setError(failure(e));
              } finally {
                setBusy(false);
              }
            }}
          >
            Resend
          </button>
        ) : null}
      </div>
      <Alert message={error} />
      {!delivery ? (
        error ? null : (
          <p class="muted">Loading…</p>
        )
      ) : (
        <>
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              <StatusBadge status={delivery.status} />
              {soon ? <span class="muted small"> (updating)</span> : null}
            </dd>
            <dt>Event</dt>
            <dd>
              {delivery.event} <span class="muted small mono">{delivery.eventId}</span>
              {delivery.test ? " (test send)" : ""}
            </dd>
            <dt>Subscription</dt>
            <dd>{subscription ? shortUrl(subscription.url) : delivery.subscriptionId}</dd>
            <dt>Id</dt>
            <dd class="mono small">{delivery.id}</dd>
            <dt>Accepted</dt>
            <dd>{when(delivery.createdAt)}</dd>
            <dt>Attempts</dt>
            <dd>
              {delivery.attemptCount}
              {delivery.attemptsOmitted > 0
                ? ` (${delivery.attemptsOmitted} older ones not kept)`
                : ""}
            </dd>
            {delivery.nextAttemptAt ? (
              <>
                <dt>Next attempt</dt>
                <dd>{when(delivery.nextAttemptAt)}</dd>
              </>
            ) : null}
            {delivery.reason ? (
              <>
                <dt>Why it ended</dt>
                <dd>{reasonText(delivery.reason)}</dd>
              </>
            ) : null}
            {delivery.lastError ? (
              <>
                <dt>Last error</dt>
                <dd>{delivery.lastError}</dd>
              </>
            ) : null}
          </dl>

          <section aria-labelledby="payload-title">
            <div class="section-head">
              <h2 id="payload-title">Payload</h2>
              {delivery.payload !== null ? (
                <CopyButton text={delivery.payload} label="Copy payload" />
              ) : null}
            </div>
            {delivery.payload === null ? (
              <p class="muted">Past retention: the payload is no longer kept.</p>
            ) : (
              // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling block must be reachable by keyboard
              <pre class="code" tabIndex={0}>
                {prettyJson(delivery.payload)}
              </pre>
            )}
          </section>

          <section aria-labelledby="attempts-title">
            <h2 id="attempts-title">Attempts</h2>
            {delivery.attempts.length === 0 ? (
              <p class="muted">No attempt yet.</p>
            ) : (
              <ol class="attempts">
                {[...delivery.attempts].reverse().map((attempt) => (
                  <AttemptView key={`${attempt.generation}-${attempt.number}`} attempt={attempt} />
                ))}
              </ol>
            )}
          </section>
        </>
      )}
    </>
  );
}

function AttemptView(props: { attempt: Attempt }) {
  const { attempt } = props;
  const response = attempt.response;
  return (
    <li class={`attempt ${attempt.outcome}`}>
      <h3>
        Attempt {attempt.number}
        {attempt.generation > 0 ? ` (resend ${attempt.generation})` : ""}
      </h3>
      <dl class="facts">
        <dt>Time</dt>
        <dd>{when(attempt.startedAt)}</dd>
        <dt>Duration</dt>
        <dd>{attempt.durationMs} ms</dd>
        <dt>Outcome</dt>
        <dd>
          <StatusBadge status={attempt.outcome} />
          {response ? ` HTTP ${response.status}` : ""}
        </dd>
        {attempt.error ? (
          <>
            <dt>Error class</dt>
            <dd>
              <code>{attempt.error.class}</code> {attempt.error.message}
            </dd>
          </>
        ) : null}
        <dt>URL</dt>
        <dd class="small url">{attempt.url}</dd>
      </dl>
      <details>
        <summary>Request headers</summary>
        <Headers
          headers={attempt.request.headers}
          label={`Request headers of attempt ${attempt.number}`}
        />
      </details>
      <details open={attempt.outcome === "failed"}>
        <summary>Response{response ? ` (HTTP ${response.status})` : ": none"}</summary>
        {response ? (
          <>
            <Headers
              headers={response.headers}
              label={`Response headers of attempt ${attempt.number}`}
            />
            <p class="small muted">
              Body{response.bodyEncoding === "base64" ? " (binary, base64)" : ""}
              {response.bodyTruncated ? ", first bytes only" : ""}:
            </p>
            <pre class="code small">{response.body || "(empty)"}</pre>
          </>
        ) : (
          <p class="muted small">The receiver did not answer.</p>
        )}
      </details>
    </li>
  );
}

function Headers(props: { headers: Record<string, string>; label: string }) {
  const entries = Object.entries(props.headers);
  if (entries.length === 0) return <p class="muted small">None.</p>;
  return (
    <TableWrap label={props.label}>
      <table class="headers">
        <tbody>
          {entries.map(([name, value]) => (
            <tr key={name}>
              <th scope="row">{name}</th>
              <td class="mono small">{value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
