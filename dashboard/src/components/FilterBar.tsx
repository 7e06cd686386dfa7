import { type FormEvent, memo, useEffect, useEffectEvent, useId, useState } from "react";

import { rfc3339FromLocal } from "../services/jobs";
import {
  cleanListFilter,
  fieldProblem,
  type FilterField,
  isTimeField,
  type ListFilter,
  listFilterKey,
  localFromRfc3339,
} from "../services/search";

/** Typing waits this long before the list is searched: one request per pause, not per key. */
export const FILTER_DEBOUNCE_MS = 300;

/** The fields this bar edits (the tenant has its own control, TenantFilter), in screen order. */
type BarField = Exclude<FilterField, "tenant">;

const FIELDS: readonly { field: BarField; label: string; placeholder?: string; mono?: boolean }[] = [
  { field: "task", label: "Task", placeholder: "any" },
  { field: "queue", label: "Queue", placeholder: "any" },
  { field: "id_prefix", label: "Job id starts with", placeholder: "0193a4…", mono: true },
  { field: "trace_id", label: "Trace id", placeholder: "exact", mono: true },
  { field: "error", label: "Error contains", placeholder: "any text of the reason" },
  { field: "payload", label: "Payload contains", placeholder: "e.g. alice@example.com" },
  { field: "created_after", label: "Created after" },
  { field: "created_before", label: "Created before" },
  { field: "finished_after", label: "Finished after" },
  { field: "finished_before", label: "Finished before" },
];

type Drafts = Record<BarField, string>;

/** What the fields show for a filter: text as it is, moments on this browser's clock. */
function draftsOf(filter: ListFilter): Drafts {
  const drafts = {} as Drafts;
  for (const { field } of FIELDS) {
    const value = filter[field] ?? "";
    drafts[field] = isTimeField(field) ? localFromRfc3339(value) : value;
  }
  return drafts;
}

/** The filter the fields say (the tenant kept from `base`), or the first field that is wrong. */
function readDrafts(drafts: Drafts, base: ListFilter): { filter: ListFilter } | { field: BarField; message: string } {
  const filter: ListFilter = base.tenant === undefined ? {} : { tenant: base.tenant };
  for (const { field, label } of FIELDS) {
    const value = drafts[field].trim();
    if (value === "") continue;
    if (isTimeField(field)) {
      const moment = rfc3339FromLocal(value);
      if (moment === null) return { field, message: `${label} is not a date and time.` };
      filter[field] = moment;
      continue;
    }
    const problem = fieldProblem(field, value);
    if (problem !== null) return { field, message: `${label}: ${problem}` };
    filter[field] = value;
  }
  return { filter: cleanListFilter(filter) };
}

interface FilterBarProps {
  /** The list's filter, as the address says. */
  filter: ListFilter;
  /** A new filter, once typing paused (or at once: Enter, a date picked, Clear). */
  onChange: (filter: ListFilter) => void;
}

/** Search the list: every field narrows it (AND); the filter goes in the address, so the page
 *  can be shared or reloaded as it is. Typing is debounced. Memoized: live events re-render
 *  the page several times a second, and its props change only with the address. */
export const FilterBar = memo(function FilterBar({ filter, onChange }: FilterBarProps) {
  const id = useId();
  const [drafts, setDrafts] = useState<Drafts>(() => draftsOf(filter));
  const [problem, setProblem] = useState<{ field: BarField; message: string } | null>(null);
  // Fields typed but not searched yet: searched once typing pauses. The wait is an Effect, and
  // the search it ends in reads the props of that moment: a tab chosen during the pause gets
  // the search, instead of the tab it was typed on coming back.
  const [waiting, setWaiting] = useState<Drafts | null>(null);

  // A filter from elsewhere (a link, the back button, another tab's filter) replaces the fields,
  // unless it is the one they say already (a field being typed keeps its trailing space).
  const incoming = listFilterKey(filter);
  const [shown, setShown] = useState(incoming);
  if (shown !== incoming) {
    setShown(incoming);
    const read = readDrafts(drafts, filter);
    if (!("filter" in read) || listFilterKey(read.filter) !== incoming) setDrafts(draftsOf(filter));
  }

  const apply = (next: Drafts) => {
    setWaiting(null);
    const read = readDrafts(next, filter);
    if (!("filter" in read)) {
      setProblem(read);
      return;
    }
    setProblem(null);
    if (listFilterKey(read.filter) !== listFilterKey(filter)) onChange(read.filter);
  };

  const applyWaiting = useEffectEvent((next: Drafts) => apply(next));
  useEffect(() => {
    if (waiting === null) return;
    const id = setTimeout(() => applyWaiting(waiting), FILTER_DEBOUNCE_MS);
    return () => clearTimeout(id);
  }, [waiting]);

  const change = (field: BarField, value: string) => {
    const next = { ...drafts, [field]: value };
    setDrafts(next);
    if (problem?.field === field) setProblem(null);
    // A picked date is a choice, not typing: at once. A text field waits for a pause.
    if (isTimeField(field)) apply(next);
    else setWaiting(next);
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    apply(drafts);
  };

  const active = FIELDS.some(({ field }) => filter[field] !== undefined);
  const clear = () => {
    const next = draftsOf({});
    setDrafts(next);
    setProblem(null);
    apply(next);
  };

  return (
    <form className="filters" role="search" aria-label="Search jobs" onSubmit={submit} noValidate data-testid="filter-bar">
      <div className="filters__fields">
        {FIELDS.map(({ field, label, placeholder, mono }) => (
          <div key={field} className="filters__field">
            <label htmlFor={`${id}-${field}`} className="field__label">
              {label}
            </label>
            <input
              id={`${id}-${field}`}
              name={field}
              className={`input input--small${mono ? " mono" : ""}`}
              type={isTimeField(field) ? "datetime-local" : "text"}
              step={isTimeField(field) ? 1 : undefined}
              value={drafts[field]}
              placeholder={placeholder}
              onChange={(event) => change(field, event.target.value)}
              aria-invalid={problem?.field === field}
              aria-describedby={`${id}-problem`}
              autoComplete="off"
              spellCheck={false}
            />
          </div>
        ))}
      </div>
      <div className="filters__actions">
        <button type="submit" className="button button--small">
          Search
        </button>
        {active && (
          <button type="button" className="button button--small button--ghost" onClick={clear}>
            Clear filters
          </button>
        )}
        <span className="muted filters__hint">Every field narrows the list; times are yours.</span>
        <p id={`${id}-problem`} className="submit__feedback submit__feedback--error filters__problem" role="alert">
          {problem?.message}
        </p>
      </div>
    </form>
  );
});
