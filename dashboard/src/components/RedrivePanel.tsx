import { useId, useState } from "react";

import { filterKey, type RedriveFields, type RedriveState } from "../app/useRedrive";
import { formatCount } from "../format";
import { rfc3339FromLocal } from "../services/jobs";
import type { RedriveFilter } from "../services/redrive";
import { ProgressBar } from "./ProgressBar";
import { RateInput, readRate } from "./RateInput";

type Fields = RedriveFields;

type Invalid = "failedAfter" | "failedBefore" | "rate";

/** The filter the fields say, or which field is wrong and why. A key bound to a tenant sends no
 *  tenant: the API takes its own. */
function readFields(
  fields: Fields,
  fixedTenant: string | null,
): { filter: RedriveFilter; ratePerSec: number | null } | { invalid: Invalid; message: string } {
  const tenant = fixedTenant === null ? fields.tenant : "";
  const filter: RedriveFilter = { task: fields.task, queue: fields.queue, tenant, error: fields.error };
  for (const [field, key, label] of [
    ["failedAfter", "failed_after", "Failed after"],
    ["failedBefore", "failed_before", "Failed before"],
  ] as const) {
    if (fields[field] === "") continue;
    const moment = rfc3339FromLocal(fields[field]);
    if (moment === null) return { invalid: field, message: `${label} is not a date and time.` };
    filter[key] = moment;
  }
  const rate = readRate(fields.rate);
  if ("problem" in rate) return { invalid: "rate", message: rate.problem };
  return { filter, ratePerSec: rate.ratePerSec };
}

interface RedrivePanelProps {
  state: RedriveState;
  fields: Fields;
  onFieldsChange: (fields: Fields) => void;
  onPreview: (filter: RedriveFilter) => void;
  onRun: (filter: RedriveFilter, ratePerSec: number | null) => void;
  onStop: () => void;
  /** Why this API key may not redrive (a read-only key; null: it may): the buttons are off. */
  denied: string | null;
  /** The tenant the key is bound to, which the tenant field shows and cannot change. */
  fixedTenant: string | null;
}

/** "Redrive by filter": count the failed jobs a filter matches, then retry them all, a batch a
 *  call, with a bar. Redrive needs a preview of the filter as it is, so what is about to be
 *  retried has been counted on screen first. */
export function RedrivePanel({
  state,
  fields,
  onFieldsChange,
  onPreview,
  onRun,
  onStop,
  denied,
  fixedTenant,
}: RedrivePanelProps) {
  const id = useId();
  // Open from the start when there is something to see (a redrive running, or a filter typed
  // before the user looked at another list); after that, the user's to fold.
  const [openAtFirst] = useState(() => state.phase !== "idle" || state.message !== null || filterKey(fields) !== "[]");
  const [problem, setProblem] = useState<{ invalid: Invalid; message: string } | null>(null);
  const read = readFields(fields, fixedTenant);
  const filter = "filter" in read ? read.filter : null;
  const busy = state.phase !== "idle";
  const running = state.phase === "running" || state.phase === "stopping";
  const preview = filter !== null && state.preview?.filterKey === filterKey(filter) ? state.preview : null;

  const change = (field: keyof Fields, value: string) => {
    onFieldsChange({ ...fields, [field]: value });
    setProblem(null);
  };
  const set = (field: keyof Fields) => (event: { target: { value: string } }) => change(field, event.target.value);

  const act = (then: (filter: RedriveFilter, ratePerSec: number | null) => void) => {
    if (busy || denied !== null) return;
    if ("invalid" in read) {
      setProblem(read);
      return;
    }
    then(read.filter, read.ratePerSec);
  };

  const text = (field: "task" | "queue" | "tenant" | "error", label: string, placeholder: string) => {
    const fixed = field === "tenant" ? fixedTenant : null;
    return (
      <div className="redrive__field">
        <label htmlFor={`${id}-${field}`} className="field__label">
          {label}
        </label>
        <input
          id={`${id}-${field}`}
          className="input"
          value={fixed ?? fields[field]}
          onChange={set(field)}
          placeholder={placeholder}
          disabled={running || fixed !== null}
          title={fixed === null ? undefined : "This API key’s tenant: it redrives only its own jobs"}
          autoComplete="off"
        />
      </div>
    );
  };

  const moment = (field: "failedAfter" | "failedBefore", label: string) => (
    <div className="redrive__field">
      <label htmlFor={`${id}-${field}`} className="field__label">
        {label}
      </label>
      <input
        id={`${id}-${field}`}
        className="input"
        type="datetime-local"
        step={1}
        value={fields[field]}
        onChange={set(field)}
        disabled={running}
        aria-invalid={problem?.invalid === field}
        aria-describedby={`${id}-problem`}
      />
    </div>
  );

  const progress = state.progress;
  return (
    <details className="redrive" data-testid="redrive" open={openAtFirst}>
      <summary className="redrive__summary">Redrive by filter</summary>
      <form
        className="redrive__form"
        aria-label="Redrive by filter"
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          act(onPreview);
        }}
      >
        <p className="field__hint redrive__hint">
          Retry every failed job that matches, each as a new job (as Retry does for one). Empty fields match anything;
          jobs already retried are left out. Times are yours.
        </p>
        {denied !== null && (
          <p className="redrive__denied" data-testid="redrive-denied">
            {denied}
          </p>
        )}
        <div className="redrive__fields">
          {text("task", "Task", "any")}
          {text("queue", "Queue", "any")}
          {text("tenant", "Tenant", "any")}
          {text("error", "Error contains", "any text of the reason")}
          {moment("failedAfter", "Failed after")}
          {moment("failedBefore", "Failed before")}
          <div className="redrive__field redrive__field--narrow">
            <RateInput
              id={`${id}-rate`}
              value={fields.rate}
              onChange={(value) => change("rate", value)}
              disabled={running}
              invalid={problem?.invalid === "rate"}
              describedBy={`${id}-problem`}
            />
          </div>
        </div>
        <div className="redrive__actions">
          <button type="submit" className="button button--small" disabled={busy || denied !== null} title={denied ?? undefined}>
            {state.phase === "previewing" ? "Counting…" : "Preview"}
          </button>
          <button
            type="button"
            className="button button--small button--primary"
            disabled={busy || denied !== null || preview === null || preview.matched === 0}
            title={denied ?? (preview === null ? "Preview first: it counts the jobs this filter matches" : undefined)}
            onClick={() => act(onRun)}
          >
            {running ? "Redriving…" : preview && preview.matched > 0 ? `Redrive ${formatCount(preview.matched)}` : "Redrive"}
          </button>
          {running && (
            <button type="button" className="button button--small" onClick={onStop} disabled={state.phase === "stopping"}>
              {state.phase === "stopping" ? "Stopping…" : "Stop"}
            </button>
          )}
          <span className="redrive__count" role="status" data-testid="redrive-preview">
            {preview !== null &&
              !running &&
              (preview.matched === 0
                ? "No failed job matches."
                : `${formatCount(preview.matched)} ${preview.matched === 1 ? "job matches" : "jobs match"}.`)}
          </span>
        </div>
        <p id={`${id}-problem`} className="submit__feedback submit__feedback--error" role="alert">
          {problem?.message}
        </p>
        {progress !== null && (running || state.message !== null) && (
          <div className="redrive__progress" data-testid="redrive-progress">
            <ProgressBar
              progress={progress.total === 0 ? 1 : progress.done / progress.total}
              message={`${formatCount(progress.done)} of ${formatCount(progress.total)} redriven`}
              label="Redrive progress"
              showMessage
            />
          </div>
        )}
        {state.message !== null && (
          <p
            className={`redrive__message${state.message.tone === "error" ? " submit__feedback--error" : ""}`}
            role={state.message.tone === "error" ? "alert" : "status"}
            data-testid="redrive-message"
          >
            {state.message.text}
          </p>
        )}
      </form>
    </details>
  );
}
