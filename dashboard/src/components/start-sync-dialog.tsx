import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { useMutation } from "urql";
import { StartSyncDocument } from "../__generated__/graphql.js";
import { describeError } from "../api/errors.js";
import { DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, MAX_RECORDS, emptyStartSyncForm, validateStartSync, type StartSyncFieldErrors, type StartSyncFormValues } from "../lib/start-sync-form.js";
import { Dialog } from "./dialog.js";
import { ErrorMessage } from "./error-message.js";

/** The Start sync dialog: every option of startSync, checked before sending; opens the run once queued. */
export function StartSyncDialog({ connectorId, models, open, onClose }: { connectorId: string; models: string[]; open: boolean; onClose: () => void }) {
  return (
    <Dialog open={open} title="Start sync" onClose={onClose}>
      <StartSyncForm connectorId={connectorId} models={models} onClose={onClose} />
    </Dialog>
  );
}

function StartSyncForm({ connectorId, models, onClose }: { connectorId: string; models: string[]; onClose: () => void }) {
  const [values, setValues] = useState<StartSyncFormValues>(() => emptyStartSyncForm(models));
  const [errors, setErrors] = useState<StartSyncFieldErrors>({});
  const [started, startSync] = useMutation(StartSyncDocument);
  const navigate = useNavigate();
  const set = <K extends keyof StartSyncFormValues>(key: K, value: StartSyncFormValues[K]) => {
    setValues((v) => ({ ...v, [key]: value }));
    setErrors((e) => ({ ...e, [key]: undefined }));
  };

  async function submit(e: FormEvent) {
    e.preventDefault();
    const checked = validateStartSync(values, models);
    if (!checked.ok) {
      setErrors(checked.errors);
      return;
    }
    const res = await startSync({ connectorId, options: checked.options });
    if (res.data) navigate(`/runs/${res.data.startSync.id}`);
  }

  const serverError = started.error ? describeError(started.error) : null;
  const runningId = serverError?.extensions?.reason === "SYNC_ALREADY_RUNNING" ? String(serverError.extensions.runId ?? "") : "";
  const fieldProps = (name: keyof StartSyncFormValues) => ({
    "aria-invalid": errors[name] ? true : undefined,
    "aria-describedby": errors[name] ? `${name}-error` : `${name}-hint`,
  });

  return (
    <form className="form" onSubmit={submit} noValidate>
      <fieldset className="checks">
        <legend>Mode</legend>
        <label className="check">
          <input type="checkbox" name="full" checked={values.full} onChange={(e) => set("full", e.target.checked)} {...fieldProps("full")} />
          <span>
            Full <small id="full-hint">read every record and reconcile deletes and archives</small>
          </span>
        </label>
        <label className="check">
          <input type="checkbox" name="dryRun" checked={values.dryRun} onChange={(e) => set("dryRun", e.target.checked)} {...fieldProps("dryRun")} />
          <span>
            Dry run <small id="dryRun-hint">count what would change, write nothing</small>
          </span>
        </label>
        <label className="check">
          <input type="checkbox" name="force" checked={values.force} onChange={(e) => set("force", e.target.checked)} {...fieldProps("force")} />
          <span>
            Force <small id="force-hint">ignore the cursor, write every record read as a new version</small>
          </span>
        </label>
      </fieldset>

      <div className="field">
        <label htmlFor="since">Since</label>
        <input id="since" type="datetime-local" name="since" value={values.since} onChange={(e) => set("since", e.target.value)} {...fieldProps("since")} />
        <FieldNote name="since" error={errors.since} hint="Incremental from this time instead of the stored cursor (your time zone)" />
      </div>
      <div className="row">
        <div className="field">
          <label htmlFor="maxRecords">Max records</label>
          <input id="maxRecords" name="maxRecords" inputMode="numeric" value={values.maxRecords} onChange={(e) => set("maxRecords", e.target.value)} placeholder="no limit" {...fieldProps("maxRecords")} />
          <FieldNote name="maxRecords" error={errors.maxRecords} hint={`1 to ${MAX_RECORDS.toLocaleString("en-US")}; the next run continues`} />
        </div>
        <div className="field">
          <label htmlFor="batchSize">Batch size</label>
          <input id="batchSize" name="batchSize" inputMode="numeric" value={values.batchSize} onChange={(e) => set("batchSize", e.target.value)} placeholder={String(DEFAULT_BATCH_SIZE)} {...fieldProps("batchSize")} />
          <FieldNote name="batchSize" error={errors.batchSize} hint={`Records per remote page, 1 to ${MAX_BATCH_SIZE.toLocaleString("en-US")}`} />
        </div>
      </div>
      <fieldset className="checks" aria-invalid={errors.models ? true : undefined} aria-describedby={errors.models ? "models-error" : undefined}>
        <legend>Models</legend>
        {models.length === 0 && <p className="muted">No enabled inbound mapping.</p>}
        {models.map((m) => (
          <label className="check" key={m}>
            <input
              type="checkbox"
              name="models"
              value={m}
              checked={values.models.includes(m)}
              onChange={(e) => set("models", e.target.checked ? [...values.models, m] : values.models.filter((x) => x !== m))}
            />
            <code>{m}</code>
          </label>
        ))}
        {errors.models && (
          <p className="field-error" id="models-error">
            {errors.models}
          </p>
        )}
      </fieldset>

      {started.error && (
        <ErrorMessage error={started.error}>
          {runningId && (
            <p>
              <Link to={`/runs/${runningId}`} onClick={onClose}>
                Watch the run in progress
              </Link>
            </p>
          )}
        </ErrorMessage>
      )}
      <div className="actions">
        <button type="button" className="ghost" onClick={onClose}>
          Close
        </button>
        <button type="submit" className="primary" disabled={started.fetching}>
          {started.fetching ? "Starting…" : "Start sync"}
        </button>
      </div>
    </form>
  );
}

function FieldNote({ name, error, hint }: { name: string; error?: string; hint: string }) {
  return error ? (
    <span className="field-error" id={`${name}-error`}>
      {error}
    </span>
  ) : (
    <small className="hint" id={`${name}-hint`}>
      {hint}
    </small>
  );
}
