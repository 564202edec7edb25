import { useEffect, useRef, type ReactNode } from "react";
import { ErrorMessage } from "./error-message.js";

/** A modal dialog on the native <dialog> element (focus trap, Escape, backdrop for free). */
export function Dialog({ open, title, onClose, children }: { open: boolean; title: string; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="dialog-title" onClose={onClose} onCancel={onClose}>
      <header className="dialog-header">
        <h2 id="dialog-title">{title}</h2>
        <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      {open && children}
    </dialog>
  );
}

/**
 * The end of a dialog's form: the mutation's error (a readable message), then Cancel and the submit button, which
 * shows `busyLabel` and waits while the mutation runs.
 */
export function FormActions(props: { error?: unknown; busy: boolean; label: string; busyLabel: string; tone?: "primary" | "danger"; onCancel: () => void }) {
  return (
    <>
      {props.error ? <ErrorMessage error={props.error} /> : null}
      <div className="actions">
        <button type="button" className="ghost" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" className={props.tone ?? "primary"} disabled={props.busy}>
          {props.busy ? props.busyLabel : props.label}
        </button>
      </div>
    </>
  );
}
