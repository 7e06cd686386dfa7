import { type KeyboardEvent, type ReactNode, useRef } from "react";

import type { ResourceState } from "../data/resource";
import { formatCount, STATUS_LABELS } from "../format";
import { useNow } from "../hooks";
import type { ListPaging } from "../app/useListPaging";
import { JOB_LIST_VIEWS, JOB_STATUSES, type JobListView, type JobPage, type Metrics, PAGE_SIZE } from "../services/jobs";
import type { Retention } from "../services/retention";
import { isNarrowed, type ListFilter } from "../services/search";
import { FilterBar } from "./FilterBar";
import { JobTable, type RowActions, type RowSelection } from "./JobTable";
import { Pagination } from "./Pagination";
import { ListRetention } from "./RetentionLine";
import { EmptyState, ErrorState, LoadingState } from "./States";
import { TenantFilter, type TenantFilterProps } from "./TenantFilter";

export const VIEW_LABELS: Record<JobListView, string> = { all: "All", ...STATUS_LABELS, dlq: "Dead letter queue" };

const EMPTY: Record<JobListView, [string, string]> = {
  all: ["No jobs yet", "Submit one above: every job, whatever its status, is listed here, newest first."],
  pending: ["No pending jobs", "Submit one above: it waits here until a worker takes it."],
  running: ["Nothing is running", "Jobs show here, pulsing, while a worker processes them."],
  done: ["No finished jobs yet", "Jobs that complete successfully are listed here, newest first."],
  failed: ["No failed jobs", "A job fails after its last retry, or at once on a permanent error."],
  cancelled: ["No cancelled jobs", "Jobs cancelled while pending or running are listed here; retry them from here."],
  dlq: ["The dead letter queue is empty", "Jobs land here with the reason they failed; retry them from here."],
};

function countFor(view: JobListView, metrics: Metrics | null): number | null {
  if (metrics === null) return null;
  if (view === "all") return JOB_STATUSES.reduce((sum, status) => sum + metrics[status], 0);
  return view === "dlq" ? metrics.dlqCount : metrics[view];
}

interface JobsPanelProps {
  view: JobListView;
  list: ResourceState<JobPage>;
  metrics: Metrics | null;
  /** Another tab (the filter is kept). */
  onNavigate: (view: JobListView) => void;
  /** Where in the list the page shown is. */
  paging: ListPaging;
  /** The list's filter (the tenant's is `tenant`), and a new one. */
  filter: ListFilter;
  onFilterChange: (filter: ListFilter) => void;
  /** Checkboxes for the bulk actions (null: this list offers none). */
  selection: RowSelection | null;
  /** The bulk actions' bar, above the list. */
  bulk?: ReactNode;
  onReload: () => void;
  actions: RowActions;
  /** What is kept of finished jobs, said under their lists (null: not known). */
  retention: Retention | null;
  /** Whose jobs the list shows: the key's tenant, or an admin's filter. */
  tenant: TenantFilterProps;
  /** Shown above the list (the DLQ's redrive). */
  children?: ReactNode;
}

export function JobsPanel({
  view,
  list,
  metrics,
  onNavigate,
  paging,
  filter,
  onFilterChange,
  selection,
  bulk,
  onReload,
  actions,
  retention,
  tenant,
  children,
}: JobsPanelProps) {
  const tabs = useRef<Map<JobListView, HTMLButtonElement>>(new Map());
  const now = useNow(view === "running" ? 1000 : 5000);

  // From the tab that has focus, not the selected one: keys pressed quickly arrive before the
  // route has changed.
  const onTabKey = (event: KeyboardEvent<HTMLButtonElement>, from: JobListView) => {
    const index = JOB_LIST_VIEWS.indexOf(from);
    const last = JOB_LIST_VIEWS.length - 1;
    const target =
      event.key === "ArrowRight"
        ? index === last ? 0 : index + 1
        : event.key === "ArrowLeft"
          ? index === 0 ? last : index - 1
          : event.key === "Home"
            ? 0
            : event.key === "End"
              ? last
              : null;
    if (target === null) return;
    event.preventDefault();
    const next = JOB_LIST_VIEWS[target];
    if (next === undefined) return;
    onNavigate(next);
    tabs.current.get(next)?.focus();
  };

  const data = list.data?.data ?? null;
  const label = VIEW_LABELS[view];
  const narrowed = isNarrowed(filter);
  const page = paging.index;

  let body;
  if (data === null && list.error) {
    body = <ErrorState title={`Could not load ${label.toLowerCase()} jobs`} error={list.error} onRetry={onReload} />;
  } else if (data === null) {
    body = <LoadingState label={`Loading ${label.toLowerCase()} jobs…`} />;
  } else if (data.jobs.length === 0 && page > 0) {
    body = (
      <EmptyState title="No jobs on this page">
        The list is shorter now.{" "}
        <button type="button" className="link-button" onClick={paging.first}>
          Go to the newest page
        </button>
      </EmptyState>
    );
  } else if (data.jobs.length === 0 && narrowed) {
    body = <EmptyState title="No job matches this search">Change or clear the filter above.</EmptyState>;
  } else if (data.jobs.length === 0) {
    const [title, text] = EMPTY[view];
    body = <EmptyState title={title}>{text}</EmptyState>;
  } else {
    body = (
      <JobTable
        view={view}
        jobs={data.jobs}
        now={now}
        actions={actions}
        selection={selection}
        caption={`${label} jobs${narrowed ? " matching the search" : ""}, page ${page + 1}, newest first`}
      />
    );
  }

  return (
    <section className="panel jobs" aria-labelledby="jobs-title">
      <div className="jobs__head">
        <h2 id="jobs-title" className="panel__title" tabIndex={-1}>
          Jobs
        </h2>
        {list.data !== null && list.error && (
          <p className="jobs__stale" role="status">
            Showing the last data received: {list.error.message}
          </p>
        )}
        <TenantFilter {...tenant} />
      </div>
      <FilterBar filter={filter} onChange={onFilterChange} />
      <div className="tabs" role="tablist" aria-label="Job lists">
        {JOB_LIST_VIEWS.map((tab) => {
          const selected = tab === view;
          // The counts are of every tenant the key sees: none beside a list of one tenant.
          // Nor beside a search: they count every job of the status.
          const count = !narrowed && (tenant.value === null || tenant.fixed !== null) ? countFor(tab, metrics) : null;
          return (
            <button
              key={tab}
              ref={(element) => {
                if (element) tabs.current.set(tab, element);
                else tabs.current.delete(tab);
              }}
              type="button"
              role="tab"
              id={`tab-${tab}`}
              className={`tab tab--${tab}`}
              aria-selected={selected}
              aria-controls="jobs-tabpanel"
              tabIndex={selected ? 0 : -1}
              onClick={() => onNavigate(tab)}
              onKeyDown={(event) => onTabKey(event, tab)}
            >
              {VIEW_LABELS[tab]}
              {count !== null && <span className="tab__count">{formatCount(count)}</span>}
            </button>
          );
        })}
      </div>
      <div
        id="jobs-tabpanel"
        role="tabpanel"
        aria-labelledby={`tab-${view}`}
        className="jobs__panel"
        aria-busy={list.loading}
        data-testid={`list-${view}`}
      >
        <ListRetention view={view} retention={retention} />
        {children}
        {bulk}
        {data?.outdated === true && (
          <p className="jobs__outdated" role="status" data-testid="list-outdated">
            Jobs changed since this search ran: new or changed jobs may match.{" "}
            <button type="button" className="link-button" onClick={onReload}>
              Refresh
            </button>
          </p>
        )}
        {body}
        {data !== null && (data.total > 0 || page > 0) && (
          <Pagination
            index={page}
            pageSize={PAGE_SIZE}
            shown={data.jobs.length}
            total={data.total}
            exact={data.totalExact}
            hasOlder={data.nextCursor !== null}
            onNewer={paging.newer}
            onOlder={() => {
              if (data.nextCursor !== null) paging.older(data.nextCursor);
            }}
            onFirst={paging.first}
            label={`${label} pages`}
          />
        )}
      </div>
    </section>
  );
}
