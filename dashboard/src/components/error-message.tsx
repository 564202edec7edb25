import type { ReactNode } from "react";
import { describeError, type ErrorWording } from "../api/errors.js";

/** An API (or any) error as a readable message; never an empty box. */
export function ErrorMessage({ error, wording, children }: { error: unknown; wording?: ErrorWording; children?: ReactNode }) {
  const e = describeError(error, wording);
  return (
    <div className="error-box" role="alert" data-code={e.code}>
      <strong className="error-title">{e.title}</strong>
      {e.detail && <p className="error-detail">{e.detail}</p>}
      {children}
      {(e.code || e.requestId) && (
        <p className="error-meta">
          {e.code && <code>{e.code}</code>}
          {e.requestId && <> · request {e.requestId}</>}
        </p>
      )}
    </div>
  );
}
