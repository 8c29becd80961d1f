import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import type { DeliveryStatus } from "./api.ts";
import { useConsole } from "./context.ts";

/**
 * A modal dialog on the native <dialog>: the browser traps focus, makes the page behind it
 * inert and closes it on Escape; focus returns where it was.
 */
export function Modal(props: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement as HTMLElement | null;
    if (dialog && !dialog.open) dialog.showModal();
    return () => {
      dialog?.close();
      opener?.focus?.();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      class={props.wide ? "modal wide" : "modal"}
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        props.onClose();
      }}
    >
      <div class="modal-head">
        <h2 id={titleId}>{props.title}</h2>
        <button type="button" class="icon" aria-label="Close" onClick={props.onClose}>
          ×
        </button>
      </div>
      {props.children}
    </dialog>
  );
}

/** Copies text; says so, or says to copy by hand where the clipboard is not available. */
export function CopyButton(props: { text: string; label: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  return (
    <span class="copy">
      <button
        type="button"
        onClick={async () => {
          try {
            await navigator.clipboard.writeText(props.text);
            setState("copied");
          } catch {
            setState("failed");
          }
        }}
      >
        {props.label}
      </button>
      <span role="status" class="muted">
        {state === "copied" ? "Copied." : state === "failed" ? "Select it and copy by hand." : ""}
      </span>
    </span>
  );
}

/** A secret or key shown the one time the API answers it. */
export function ShownOnce(props: {
  title: string;
  label: string;
  value: string;
  note?: string;
  onClose: () => void;
}) {
  const id = useId();
  return (
    <Modal title={props.title} onClose={props.onClose}>
      <p>
        <strong>Copy it now:</strong> it is shown this once and cannot be read again.
        {props.note ? ` ${props.note}` : ""}
      </p>
      <label for={id}>{props.label}</label>
      <input
        id={id}
        class="mono"
        readOnly
        value={props.value}
        onFocus={(e) => e.currentTarget.select()}
      />
      <div class="actions">
        <CopyButton text={props.value} label={`Copy ${props.label.toLowerCase()}`} />
        <button type="button" class="primary" onClick={props.onClose}>
          Done
        </button>
      </div>
    </Modal>
  );
}

export function Confirm(props: {
  title: string;
  children: ComponentChildren;
  confirm: string;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const { failure } = useConsole();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  return (
    <Modal title={props.title} onClose={props.onClose}>
      {props.children}
      <Alert message={error} />
      <div class="actions">
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
        <button
          type="button"
          class="danger"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            setError(undefined);
            try {
              await props.onConfirm();
            } catch (e) {
              setError(failure(e));
            } finally {
              setBusy(false);
            }
          }}
        >
          {props.confirm}
        </button>
      </div>
    </Modal>
  );
}

export function StatusBadge(props: { status: DeliveryStatus | "test" }) {
  return <span class={`badge ${props.status}`}>{props.status}</span>;
}

export function Alert(props: { message: string | undefined }) {
  return props.message ? (
    <p role="alert" class="alert">
      {props.message}
    </p>
  ) : null;
}

/** A table that scrolls sideways on a narrow screen instead of overflowing the page. */
export function TableWrap(props: { label: string; children: ComponentChildren }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
    <section class="table-wrap" aria-label={props.label} tabIndex={0}>
      {props.children}
    </section>
  );
}
