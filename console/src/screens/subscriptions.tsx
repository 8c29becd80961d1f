import { useCallback, useEffect, useState } from "preact/hooks";
import type { EventType, Subscription, TestSendResult } from "../api.ts";
import { DeliveriesChart } from "../chart.tsx";
import { latestBySubscription, loadSample, type Sample } from "../chart-data.ts";
import { Alert, Confirm, Modal, ShownOnce, StatusBadge, TableWrap } from "../components.tsx";
import { useConsole } from "../context.ts";
import { ago, health, isClearSecret, shortUrl, when } from "../format.ts";
import { SubscriptionForm } from "./subscription-form.tsx";

type Dialog =
  | { kind: "form"; subscription?: Subscription }
  | { kind: "secret"; title: string; secret: string; note?: string }
  | { kind: "delete"; subscription: Subscription }
  | { kind: "test"; subscription: Subscription; result: TestSendResult };

export function SubscriptionsScreen(props: { eventTypes: readonly EventType[] | undefined }) {
  const { client, can, failure, notify } = useConsole();
  const [subscriptions, setSubscriptions] = useState<Subscription[]>();
  const [sample, setSample] = useState<Sample>();
  const [sampleError, setSampleError] = useState<string>();
  const [error, setError] = useState<string>();
  const [dialog, setDialog] = useState<Dialog>();
  const [busy, setBusy] = useState<string>();

  const reload = useCallback(async () => {
    try {
      setSubscriptions((await client.call("GET /v1/subscriptions")).data);
      setError(undefined);
    } catch (e) {
      setError(failure(e));
    }
    try {
      setSample(await loadSample(client));
    } catch (e) {
      setSampleError(failure(e));
    }
  }, [client, failure]);

  useEffect(() => {
    void reload();
  }, [reload]);

  const latest = sample ? latestBySubscription(sample.deliveries) : undefined;

  const act = async (key: string, work: () => Promise<void>) => {
    setBusy(key);
    setError(undefined);
    try {
      await work();
    } catch (e) {
      setError(failure(e));
    } finally {
      setBusy(undefined);
    }
  };

  const saved = (subscription: Subscription, created: boolean) => {
    setDialog(
      isClearSecret(subscription.secret)
        ? { kind: "secret", title: "Signing secret", secret: subscription.secret }
        : undefined,
    );
    notify(created ? "Subscription created." : "Subscription saved.");
    void reload();
  };

  return (
    <>
      <div class="screen-head">
        <h1>Subscriptions</h1>
        {can("manage") ? (
          <button
            type="button"
            class="primary"
            disabled={!props.eventTypes}
            onClick={() => setDialog({ kind: "form" })}
          >
            New subscription
          </button>
        ) : null}
      </div>
      <DeliveriesChart sample={sample} error={sampleError} />
      <Alert message={error} />
      {!subscriptions ? (
        <p class="muted">Loading…</p>
      ) : subscriptions.length === 0 ? (
        <p class="empty">No subscriptions yet.</p>
      ) : (
        <TableWrap label="Subscriptions">
          <table class="responsive">
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Events</th>
                <th scope="col">Enabled</th>
                <th scope="col">Health</th>
                <th scope="col">Last delivery</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {subscriptions.map((subscription) => {
                const state = health(subscription);
                const last = latest?.get(subscription.id);
                return (
                  <tr key={subscription.id}>
                    <td data-label="URL">
                      <span class="url" title={subscription.url}>
                        {shortUrl(subscription.url)}
                      </span>
                      {subscription.description ? (
                        <span class="muted small block">{subscription.description}</span>
                      ) : null}
                    </td>
                    <td data-label="Events">
                      <span class="small">{subscription.events.join(", ")}</span>
                    </td>
                    <td data-label="Enabled">{subscription.enabled ? "Yes" : "No"}</td>
                    <td data-label="Health">
                      <span class={`health ${state.tone}`}>{state.text}</span>
                    </td>
                    <td data-label="Last delivery">
                      {last ? (
                        <a href={`#/deliveries/${last.id}`}>
                          <StatusBadge status={last.status} /> {ago(last.createdAt)}
                        </a>
                      ) : (
                        <span class="muted">{sample ? "None in 24 h" : "…"}</span>
                      )}
                    </td>
                    <td class="row-actions">
                      {can("manage") ? (
                        <>
                          <button
                            type="button"
                            onClick={() => setDialog({ kind: "form", subscription })}
                            disabled={!props.eventTypes}
                          >
                            Edit
                          </button>
                          <button
                            type="button"
                            disabled={busy === `test-${subscription.id}`}
                            onClick={() =>
                              act(`test-${subscription.id}`, async () => {
                                const result = await client.call(
                                  "POST /v1/subscriptions/{id}/test",
                                  { params: { id: subscription.id }, body: {} },
                                );
                                setDialog({ kind: "test", subscription, result });
                                void reload();
                              })
                            }
                          >
                            {busy === `test-${subscription.id}` ? "Sending…" : "Send test event"}
                          </button>
                          <button
                            type="button"
                            disabled={busy === `rotate-${subscription.id}`}
                            onClick={() =>
                              act(`rotate-${subscription.id}`, async () => {
                                const rotated = await client.call(
                                  "POST /v1/subscriptions/{id}/rotate-secret",
                                  { params: { id: subscription.id }, body: {} },
                                );
                                if (isClearSecret(rotated.secret)) {
                                  setDialog({
                                    kind: "secret",
                                    title: "New signing secret",
                                    secret: rotated.secret,
                                    note: `The old secret keeps signing too until ${when(rotated.rotationEndsAt)}.`,
                                  });
                                }
                                void reload();
                              })
                            }
                          >
                            Rotate secret
                          </button>
                          <button
                            type="button"
                            disabled={busy === `toggle-${subscription.id}`}
                            onClick={() =>
                              act(`toggle-${subscription.id}`, async () => {
                                const changed = await client.call("PATCH /v1/subscriptions/{id}", {
                                  params: { id: subscription.id },
                                  body: { enabled: !subscription.enabled },
                                });
                                notify(
                                  changed.missed
                                    ? `Enabled. It missed deliveries from ${when(changed.missed.from)} to ${when(changed.missed.to)}: resend them from Failed.`
                                    : changed.enabled
                                      ? "Subscription enabled."
                                      : "Subscription disabled.",
                                );
                                void reload();
                              })
                            }
                          >
                            {subscription.enabled ? "Disable" : "Enable"}
                          </button>
                          <button
                            type="button"
                            class="danger"
                            onClick={() => setDialog({ kind: "delete", subscription })}
                          >
                            Delete
                          </button>
                        </>
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableWrap>
      )}

      {dialog?.kind === "form" && props.eventTypes ? (
        <SubscriptionForm
          subscription={dialog.subscription}
          eventTypes={props.eventTypes}
          onSaved={(s) => saved(s, !dialog.subscription)}
          onClose={() => setDialog(undefined)}
        />
      ) : null}
      {dialog?.kind === "secret" ? (
        <ShownOnce
          title={dialog.title}
          label="Secret"
          value={dialog.secret}
          note={dialog.note}
          onClose={() => setDialog(undefined)}
        />
      ) : null}
      {dialog?.kind === "delete" ? (
        <Confirm
          title="Delete subscription"
          confirm="Delete"
          onClose={() => setDialog(undefined)}
          onConfirm={async () => {
            await client.call("DELETE /v1/subscriptions/{id}", {
              params: { id: dialog.subscription.id },
            });
            setDialog(undefined);
            notify("Subscription deleted.");
            await reload();
          }}
        >
          <p>
            Delete the subscription to <strong>{dialog.subscription.url}</strong>? Deliveries still
            pending for it are canceled. This cannot be undone.
          </p>
        </Confirm>
      ) : null}
      {dialog?.kind === "test" ? (
        <Modal title="Test event" onClose={() => setDialog(undefined)}>
          <p>
            <StatusBadge status={dialog.result.status} /> {dialog.result.event} to{" "}
            {shortUrl(dialog.subscription.url)} in {dialog.result.durationMs} ms
            {dialog.result.response ? ` — HTTP ${dialog.result.response.status}` : ""}
            {dialog.result.error
              ? ` — ${dialog.result.error.class}: ${dialog.result.error.message}`
              : ""}
          </p>
          <div class="actions">
            <a
              class="button"
              href={`#/deliveries/${dialog.result.deliveryId}`}
              onClick={() => setDialog(undefined)}
            >
              Open the delivery
            </a>
            <button type="button" class="primary" onClick={() => setDialog(undefined)}>
              Done
            </button>
          </div>
        </Modal>
      ) : null}
    </>
  );
}
