import { useId, useMemo, useState } from "preact/hooks";
import { type EventType, fieldErrors, type Subscription } from "../api.ts";
import { Alert, Modal } from "../components.tsx";
import { useConsole } from "../context.ts";

/**
 * The subscription modal: URL, the events (grouped by entity, each group with a select-all),
 * an optional secret (yours, or generated), enabled. Create, or Save when editing. A failed
 * save keeps everything typed, and the API's field errors show next to their fields.
 */
export function SubscriptionForm(props: {
  subscription?: Subscription;
  eventTypes: readonly EventType[];
  onSaved: (saved: Subscription) => void;
  onClose: () => void;
}) {
  const { client, failure } = useConsole();
  const editing = props.subscription;
  const [url, setUrl] = useState(editing?.url ?? "https://");
  const [description, setDescription] = useState(editing?.description ?? "");
  const [events, setEvents] = useState<Set<string>>(new Set(editing?.events ?? []));
  const [secret, setSecret] = useState("");
  const [generate, setGenerate] = useState(!editing);
  const [enabled, setEnabled] = useState(editing?.enabled ?? true);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string>();
  const [busy, setBusy] = useState(false);
  const id = useId();

  const groups = useMemo(() => {
    const byEntity = new Map<string, EventType[]>();
    for (const type of props.eventTypes) {
      byEntity.set(type.entity, [...(byEntity.get(type.entity) ?? []), type]);
    }
    return [...byEntity];
  }, [props.eventTypes]);

  const toggle = (names: string[], on: boolean) => {
    const next = new Set(events);
    for (const name of names) {
      if (on) next.add(name);
      else next.delete(name);
    }
    setEvents(next);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    setMessage(undefined);
    const chosen = props.eventTypes.map((t) => t.name).filter((name) => events.has(name));
    const secretPart = generate
      ? { generateSecret: true as const }
      : secret !== ""
        ? { secret }
        : {};
    try {
      const saved = editing
        ? await client.call("PATCH /v1/subscriptions/{id}", {
            params: { id: editing.id },
            body: { url, events: chosen, enabled, description, ...secretPart },
          })
        : await client.call("POST /v1/subscriptions", {
            body: {
              url,
              events: chosen,
              enabled,
              ...(description ? { description } : {}),
              ...secretPart,
            },
          });
      props.onSaved(saved);
    } catch (error) {
      setErrors(fieldErrors(error));
      setMessage(failure(error));
    } finally {
      setBusy(false);
    }
  };

  const fieldError = (name: string) =>
    errors[name] ? (
      <p class="field-error" id={`${id}-${name}-error`}>
        {errors[name]}
      </p>
    ) : null;
  const describedBy = (name: string, hint?: string) =>
    [hint, errors[name] ? `${id}-${name}-error` : undefined].filter(Boolean).join(" ") || undefined;

  return (
    <Modal title={editing ? "Edit subscription" : "New subscription"} onClose={props.onClose} wide>
      <form onSubmit={submit} noValidate>
        <div class="field">
          <label for={`${id}-url`}>URL</label>
          <input
            id={`${id}-url`}
            type="url"
            required
            autocomplete="off"
            value={url}
            aria-invalid={errors.url ? true : undefined}
            aria-describedby={describedBy("url", `${id}-url-hint`)}
            onInput={(e) => setUrl(e.currentTarget.value)}
          />
          <p class="hint" id={`${id}-url-hint`}>
            An https endpoint that answers 2xx. Each delivery is a signed POST.
          </p>
          {fieldError("url")}
        </div>

        <fieldset
          class="events"
          aria-invalid={errors.events ? true : undefined}
          aria-describedby={describedBy("events")}
        >
          <legend>Events</legend>
          <div class="event-groups">
            {groups.map(([entity, types]) => {
              const names = types.map((t) => t.name);
              const chosen = names.filter((n) => events.has(n)).length;
              return (
                <fieldset key={entity} class="event-group">
                  <legend>{entity}</legend>
                  <label class="check all">
                    <input
                      type="checkbox"
                      checked={chosen === names.length}
                      indeterminate={chosen > 0 && chosen < names.length}
                      onChange={(e) => toggle(names, e.currentTarget.checked)}
                    />
                    All {entity} events
                  </label>
                  {types.map((type) => (
                    <label class="check" key={type.name} title={type.description}>
                      <input
                        type="checkbox"
                        checked={events.has(type.name)}
                        onChange={(e) => toggle([type.name], e.currentTarget.checked)}
                      />
                      {type.name}
                    </label>
                  ))}
                </fieldset>
              );
            })}
          </div>
          {fieldError("events")}
        </fieldset>

        <div class="field">
          <label for={`${id}-secret`}>Secret</label>
          <input
            id={`${id}-secret`}
            type="text"
            class="mono"
            autocomplete="off"
            spellcheck={false}
            value={secret}
            disabled={generate}
            aria-invalid={errors.secret ? true : undefined}
            aria-describedby={describedBy("secret", `${id}-secret-hint`)}
            onInput={(e) => setSecret(e.currentTarget.value)}
          />
          <p class="hint" id={`${id}-secret-hint`}>
            {editing
              ? "Leave empty to keep the current secret. A new one replaces it at once (Rotate secret keeps the old one signing for a day)."
              : "Leave empty for unsigned deliveries, or type your own (16–256 printable characters)."}
          </p>
          <label class="check">
            <input
              type="checkbox"
              checked={generate}
              onChange={(e) => setGenerate(e.currentTarget.checked)}
            />
            Generate a secret
          </label>
          {fieldError("secret")}
          {fieldError("generateSecret")}
        </div>

        <div class="field">
          <label for={`${id}-description`}>Description</label>
          <input
            id={`${id}-description`}
            type="text"
            value={description}
            aria-invalid={errors.description ? true : undefined}
            aria-describedby={describedBy("description")}
            onInput={(e) => setDescription(e.currentTarget.value)}
          />
          {fieldError("description")}
        </div>

        <div class="field switch-field">
          <input
            id={`${id}-enabled`}
            type="checkbox"
            role="switch"
            class="switch"
            aria-checked={enabled}
            checked={enabled}
            onChange={(e) => setEnabled(e.currentTarget.checked)}
          />
          <label for={`${id}-enabled`}>Enabled</label>
          {fieldError("enabled")}
        </div>

        <Alert message={message} />
        <div class="actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {editing ? "Save" : "Create"}
          </button>
        </div>
      </form>
    </Modal>
  );
}
