import { useId, useState } from "react";

import { type Bulk, type BulkScope, VERBS } from "../app/useBulk";
import { formatCount, formatJobs } from "../format";
import { type BulkKind, type BulkRequest, bulkRequest, type BulkTarget, MAX_SELECTION } from "../services/bulk";
import type { JobListView } from "../services/jobs";
import type { FilterField, ListFilter } from "../services/search";
import { ProgressBar } from "./ProgressBar";
import { RateInput, readRate } from "./RateInput";

const FIELD_WORDS: Partial<Record<FilterField, string>> = {
  id_prefix: "a job id prefix",
  created_after: "a creation time",
  created_before: "a creation time",
  finished_after: "a finished time",
  finished_before: "a finished time",
};

interface BulkBarProps {
  /** The action this list offers (null: none; a bulk action running elsewhere still shows). */
  kind: BulkKind | null;
  view: JobListView;
  filter: ListFilter;
  /** The rows picked, and the bulk action previewed or running. */
  bulk: Pick<Bulk, "state" | "selected" | "preview" | "confirm" | "dismiss" | "stop" | "clearSelection">;
  /** Why this API key may not act (a read-only key; null: it may): the buttons are off. */
  denied: string | null;
}

/** "Retry selected / Retry all matching" (or Cancel), then the preview to confirm ("12 jobs
 *  match — Retry 12?"), then the run with its bar and a Stop. */
export function BulkBar({ kind, view, filter, bulk, denied }: BulkBarProps) {
  const { state, selected, dismiss: onDismiss, stop: onStop, clearSelection: onClearSelection } = bulk;
  const onPreview = (request: BulkRequest, scope: BulkScope) => void bulk.preview(request, scope);
  const onConfirm = () => void bulk.confirm();
  const id = useId();
  const [rate, setRate] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const running = state.phase === "running" || state.phase === "stopping";
  const busy = state.phase !== "idle";
  const shownKind = state.request?.kind ?? kind;
  if (kind === null && state.phase === "idle" && state.message === null) return null;

  const start = (target: BulkTarget, scope: BulkScope) => {
    if (busy || denied !== null || kind === null) return;
    let ratePerSec: number | null = null;
    if (kind === "retry") {
      const read = readRate(rate);
      if ("problem" in read) {
        setProblem(read.problem);
        return;
      }
      ratePerSec = read.ratePerSec;
    }
    const built = bulkRequest(kind, view, target, ratePerSec);
    if ("unsupported" in built) return; // the button is off, saying why
    setProblem(null);
    onPreview(built, scope);
  };

  // "All matching" cannot say every filter a list takes: a redrive knows no id or creation
  // time, a cancel no finished time (live jobs have none). Rows can still be selected.
  const unsupported = kind === null ? null : bulkRequest(kind, view, { filter }, null);
  const matchingOff =
    kind !== null && unsupported !== null && "unsupported" in unsupported
      ? `${VERBS[kind].verb} all matching cannot filter by ${[
          ...new Set(unsupported.unsupported.map((field) => FIELD_WORDS[field] ?? field)),
        ].join(" or ")}: select the rows instead.`
      : null;

  const verb = shownKind === null ? "" : VERBS[shownKind].verb;
  const count = selected.size;
  const progress = state.progress;
  return (
    <section className="bulk" aria-label="Bulk actions" data-testid="bulk-bar">
      {kind !== null && (
        <div className="bulk__actions">
          <span className="bulk__count" data-testid="bulk-selected">
            {count === 0 ? "No rows selected" : `${formatJobs(count)} selected`}
            {count >= MAX_SELECTION && ` (at most ${formatCount(MAX_SELECTION)})`}
          </span>
          {count > 0 && (
            <button type="button" className="button button--small button--ghost" onClick={onClearSelection} disabled={running}>
              Clear selection
            </button>
          )}
          <button
            type="button"
            className={`button button--small${kind === "cancel" ? " button--danger" : ""}`}
            disabled={busy || denied !== null || count === 0}
            title={denied ?? (count === 0 ? "Tick rows first" : undefined)}
            onClick={() => start({ ids: [...selected] }, "selected")}
          >
            {VERBS[kind].verb} selected
          </button>
          <button
            type="button"
            className={`button button--small${kind === "cancel" ? " button--danger" : ""}`}
            disabled={busy || denied !== null || matchingOff !== null}
            title={denied ?? matchingOff ?? "Every job this list's filter matches, on every page"}
            onClick={() => start({ filter }, "matching")}
          >
            {VERBS[kind].verb} all matching
          </button>
          {kind === "retry" && (
            <span className="bulk__rate">
              <RateInput
                id={`${id}-rate`}
                small
                value={rate}
                onChange={(value) => {
                  setRate(value);
                  setProblem(null);
                }}
                disabled={busy}
                invalid={problem !== null}
              />
            </span>
          )}
        </div>
      )}
      {problem !== null && (
        <p className="submit__feedback submit__feedback--error" role="alert">
          {problem}
        </p>
      )}
      {state.phase === "previewing" && (
        <p className="bulk__preview" role="status" data-testid="bulk-preview">
          Counting the matching jobs…
        </p>
      )}
      {state.phase === "confirm" && state.matched !== null && (
        <div className="bulk__confirm" role="alertdialog" aria-label={`Confirm bulk ${verb.toLowerCase()}`}>
          <p className="bulk__preview" data-testid="bulk-preview">
            {state.matched === 0
              ? `No job matches: nothing to ${verb.toLowerCase()}.`
              : `${formatJobs(state.matched)} ${state.matched === 1 ? "matches" : "match"} — ${verb} ${formatCount(state.matched)}?`}
          </p>
          {state.matched > 0 && (
            <button
              type="button"
              className={`button button--small${shownKind === "cancel" ? " button--danger" : " button--primary"}`}
              onClick={onConfirm}
            >
              {verb} {formatJobs(state.matched)}
            </button>
          )}
          <button type="button" className="button button--small button--ghost" onClick={onDismiss}>
            {state.matched > 0 ? "Back" : "OK"}
          </button>
        </div>
      )}
      {progress !== null && (running || state.message !== null) && shownKind !== null && (
        <div className="bulk__progress" data-testid="bulk-progress">
          <ProgressBar
            progress={progress.total === 0 ? 1 : progress.done / progress.total}
            message={`${formatCount(progress.done)} of ${formatCount(progress.total)} ${VERBS[shownKind].done}`}
            label="Bulk progress"
            showMessage
          />
          {running && (
            <button type="button" className="button button--small" onClick={onStop} disabled={state.phase === "stopping"}>
              {state.phase === "stopping" ? "Stopping…" : "Stop"}
            </button>
          )}
        </div>
      )}
      {state.message !== null && (
        <p
          className={`bulk__message${state.message.tone === "error" ? " submit__feedback--error" : ""}`}
          role={state.message.tone === "error" ? "alert" : "status"}
          data-testid="bulk-message"
        >
          {state.message.text}{" "}
          {!busy && (
            <button type="button" className="link-button" onClick={onDismiss}>
              Dismiss
            </button>
          )}
        </p>
      )}
    </section>
  );
}
