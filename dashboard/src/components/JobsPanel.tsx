import { type KeyboardEvent, type ReactNode, useRef } from "react";

import type { ResourceState } from "../data/resource";
import { formatCount, STATUS_LABELS } from "../format";
import { useNow } from "../hooks";
import { JOB_LIST_VIEWS, type JobListView, type JobPage, type Metrics, PAGE_SIZE } from "../services/jobs";
import type { Retention } from "../services/retention";
import { JobTable, type RowActions } from "./JobTable";
import { Pagination } from "./Pagination";
import { ListRetention } from "./RetentionLine";
import { EmptyState, ErrorState, LoadingState } from "./States";
import { TenantFilter, type TenantFilterProps } from "./TenantFilter";

export const VIEW_LABELS: Record<JobListView, string> = { ...STATUS_LABELS, dlq: "Dead letter queue" };

const EMPTY: Record<JobListView, [string, string]> = {
  pending: ["No pending jobs", "Submit one above: it waits here until a worker takes it."],
  running: ["Nothing is running", "Jobs show here, pulsing, while a worker processes them."],
  done: ["No finished jobs yet", "Jobs that complete successfully are listed here, newest first."],
  failed: ["No failed jobs", "A job fails after its last retry, or at once on a permanent error."],
  cancelled: ["No cancelled jobs", "Jobs cancelled while pending or running are listed here; retry them from here."],
  dlq: ["The dead letter queue is empty", "Jobs land here with the reason they failed; retry them from here."],
};

function countFor(view: JobListView, metrics: Metrics | null): number | null {
  if (metrics === null) return null;
  return view === "dlq" ? metrics.dlqCount : metrics[view];
}

interface JobsPanelProps {
  view: JobListView;
  page: number;
  list: ResourceState<JobPage>;
  metrics: Metrics | null;
  onNavigate: (view: JobListView, page: number) => void;
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
  page,
  list,
  metrics,
  onNavigate,
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
    onNavigate(next, 0);
    tabs.current.get(next)?.focus();
  };

  const data = list.data?.data ?? null;
  const label = VIEW_LABELS[view];
  const pages = data ? Math.max(1, Math.ceil(data.total / PAGE_SIZE)) : 1;

  let body;
  if (data === null && list.error) {
    body = <ErrorState title={`Could not load ${label.toLowerCase()} jobs`} error={list.error} onRetry={onReload} />;
  } else if (data === null) {
    body = <LoadingState label={`Loading ${label.toLowerCase()} jobs…`} />;
  } else if (data.jobs.length === 0 && page > 0) {
    body = (
      <EmptyState title="No jobs on this page">
        The list is shorter now.{" "}
        <button type="button" className="link-button" onClick={() => onNavigate(view, 0)}>
          Go to the first page
        </button>
      </EmptyState>
    );
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
        caption={`${label} jobs, page ${page + 1} of ${pages}, newest first`}
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
      <div className="tabs" role="tablist" aria-label="Job lists">
        {JOB_LIST_VIEWS.map((tab) => {
          const selected = tab === view;
          // The counts are of every tenant the key sees: none beside a list of one tenant.
          const count = tenant.value === null || tenant.fixed !== null ? countFor(tab, metrics) : null;
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
              onClick={() => onNavigate(tab, 0)}
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
        {body}
        {data !== null && data.total > 0 && (
          <Pagination
            page={page}
            pageSize={PAGE_SIZE}
            total={data.total}
            onPage={(next) => onNavigate(view, next)}
            label={`${label} pages`}
          />
        )}
      </div>
    </section>
  );
}
