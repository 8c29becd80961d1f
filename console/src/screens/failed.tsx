import { useCallback, useEffect, useState } from "preact/hooks";
import type { DeliverySummary, Subscription } from "../api.ts";
import { Alert } from "../components.tsx";
import { useConsole } from "../context.ts";
import { reasonText, shortUrl, when } from "../format.ts";
import { DeliveryTable } from "./deliveries.tsx";

const PAGE = 50;
/** Dead letters per redrive call: small pages, so the progress moves. */
const REDRIVE_PAGE = 25;

interface Redrive {
  total: number;
  done: number;
  moved: number;
  skipped: number;
  errors: Array<{ id: string; reason: string }>;
  finished: boolean;
}

/** The dead letters: why each failed, Resend per row, Redrive all with its progress. */
export function FailedScreen(props: { subscriptions: readonly Subscription[] | undefined }) {
  const { client, can, failure, notify } = useConsole();
  const [summary, setSummary] = useState<{
    depth: number;
    depthExact: boolean;
    oldestFailedAt: string | null;
  }>();
  const [failed, setFailed] = useState<{ data: DeliverySummary[]; nextCursor: string | null }>();
  const [error, setError] = useState<string>();
  const [results, setResults] = useState<Record<string, string>>({});
  const [redrive, setRedrive] = useState<Redrive>();

  const load = useCallback(async () => {
    try {
      const [dlq, list] = await Promise.all([
        client.call("GET /v1/dlq"),
        client.call("GET /v1/deliveries", { query: { status: "failed", limit: PAGE } }),
      ]);
      setSummary(dlq);
      setFailed(list);
      setError(undefined);
    } catch (e) {
      setError(failure(e));
    }
  }, [client, failure]);

  useEffect(() => {
    void load();
  }, [load]);

  const resend = async (delivery: DeliverySummary) => {
    setResults((r) => ({ ...r, [delivery.id]: "Resending…" }));
    try {
      await client.call("POST /v1/deliveries/{id}/resend", { params: { id: delivery.id } });
      setResults((r) => ({ ...r, [delivery.id]: "Resent" }));
      notify("Resend queued.");
    } catch (e) {
      setResults((r) => ({ ...r, [delivery.id]: failure(e) }));
    }
  };

  const redriveAll = async () => {
    const total = summary?.depth ?? 0;
    let state: Redrive = { total, done: 0, moved: 0, skipped: 0, errors: [], finished: false };
    setRedrive(state);
    let cursor: string | undefined;
    try {
      do {
        const page = await client.call("POST /v1/dlq/redrive", {
          body: { limit: REDRIVE_PAGE, ...(cursor ? { cursor } : {}) },
        });
        const done = state.done + page.moved + page.skipped + page.errors.length;
        state = {
          total: Math.max(state.total, done),
          done,
          moved: state.moved + page.moved,
          skipped: state.skipped + page.skipped,
          errors: [...state.errors, ...page.errors],
          finished: false,
        };
        setRedrive(state);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      state = { ...state, total: state.done, finished: true };
      setRedrive(state);
      notify(`Redrive finished: ${state.moved} resent.`);
    } catch (e) {
      setError(failure(e));
      setRedrive({ ...state, finished: true });
    }
    const failedIds = new Map(state.errors.map((item) => [item.id, item.reason]));
    // Every dead letter the table showed: resent, or why not.
    setResults((r) => {
      const next = { ...r };
      for (const delivery of failed?.data ?? []) {
        next[delivery.id] = failedIds.has(delivery.id)
          ? `Not resent: ${failedIds.get(delivery.id)}`
          : "Resent";
      }
      return next;
    });
  };

  const urls = new Map(props.subscriptions?.map((s) => [s.id, shortUrl(s.url)]));
  const running = redrive !== undefined && !redrive.finished;

  return (
    <>
      <div class="screen-head">
        <h1>Failed</h1>
        {can("resend") ? (
          <button
            type="button"
            class="primary"
            disabled={running || !summary || summary.depth === 0}
            onClick={redriveAll}
          >
            Redrive all
          </button>
        ) : null}
        <button type="button" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <p>
        {summary
          ? summary.depth === 0
            ? "No dead letters: every delivery that failed for good has been resent."
            : `${summary.depth}${summary.depthExact ? "" : "+"} dead letter${summary.depth === 1 ? "" : "s"}, the oldest failed ${when(summary.oldestFailedAt)}.`
          : "Loading…"}
      </p>
      {redrive ? (
        <section class="redrive" aria-labelledby="redrive-title">
          <h2 id="redrive-title">Redrive</h2>
          <progress
            max={Math.max(1, redrive.total)}
            value={redrive.done}
            aria-label="Redrive progress"
          />
          <p role="status">
            {redrive.finished ? "Finished: " : "Resending… "}
            {redrive.done} of {redrive.total}: {redrive.moved} resent, {redrive.skipped} already
            under way, {redrive.errors.length} not resent.
          </p>
          {redrive.errors.length > 0 ? (
            <ul class="small">
              {redrive.errors.map((item) => (
                <li key={item.id}>
                  <a href={`#/deliveries/${item.id}`} class="mono">
                    {item.id}
                  </a>
                  : {item.reason}
                </li>
              ))}
            </ul>
          ) : null}
        </section>
      ) : null}
      <Alert message={error} />
      {!failed ? null : failed.data.length === 0 ? (
        <p class="empty">Nothing failed.</p>
      ) : (
        <DeliveryTable
          deliveries={failed.data}
          urls={urls}
          label="Failed deliveries"
          extra={{
            head: "Reason",
            cell: (delivery) => (
              <span class="row-actions">
                <span>{reasonText(delivery.reason)}</span>
                {results[delivery.id] ? (
                  <span role="status" class="small">
                    {results[delivery.id]}
                  </span>
                ) : can("resend") ? (
                  <button type="button" onClick={() => resend(delivery)}>
                    Resend
                  </button>
                ) : null}
              </span>
            ),
          }}
        />
      )}
      {failed?.nextCursor ? (
        <p class="muted small">
          Showing the latest {PAGE}; the Deliveries screen pages through all of them (status
          failed).
        </p>
      ) : null}
    </>
  );
}
