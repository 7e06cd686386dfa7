import { memo, type ReactNode } from "react";

import { describePayload, formatAgo, formatDateTime, formatDuration, formatRelative, shortId } from "../format";
import { routeHref } from "../routing";
import type { Job, JobListView } from "../services/jobs";
import { StatusBadge } from "./StatusBadge";

export interface RetryAction {
  onRetry: (job: Job) => void;
  /** Ids of jobs whose retry request is in flight. */
  busy: ReadonlySet<string>;
}

interface Column {
  header: string;
  className?: string;
  cell: (job: Job, now: number, retry: RetryAction) => ReactNode;
}

/** A moment, relative to now; `future` for one that may be ahead (run at). */
function When({ date, now, future = false }: { date: Date | null; now: number; future?: boolean }) {
  if (date === null) return <span className="muted">–</span>;
  return (
    <time dateTime={date.toISOString()} title={formatDateTime(date)}>
      {future ? formatRelative(date, now) : formatAgo(date, now)}
    </time>
  );
}

const jobColumn: Column = {
  header: "Job",
  cell: (job) => (
    <div className="cell-job">
      <a className="mono job-link" href={routeHref({ name: "job", id: job.id })} title={job.id}>
        {shortId(job.id)}
      </a>
      <span className="muted cell-job__task">
        {job.task}
        {job.queue !== "default" ? ` · ${job.queue}` : ""}
      </span>
    </div>
  ),
};

const payloadColumn: Column = {
  header: "Payload",
  className: "cell-payload",
  cell: (job) => <span title={JSON.stringify(job.payload)}>{describePayload(job)}</span>,
};

const statusColumn: Column = { header: "Status", cell: (job) => <StatusBadge status={job.status} /> };

const attemptsColumn: Column = {
  header: "Attempts",
  className: "cell-num",
  cell: (job) => (
    <span title={`${job.attempts} of at most ${job.maxRetries + 1}`}>
      {job.attempts} / {job.maxRetries + 1}
    </span>
  ),
};

const tenantColumn: Column = { header: "Tenant", cell: (job) => job.tenant };

const reasonColumn: Column = {
  header: "Reason",
  className: "cell-reason",
  cell: (job) => <span className="reason">{job.lastError ?? "–"}</span>,
};

const retryColumn: Column = {
  header: "Action",
  className: "cell-action",
  cell: (job, _now, retry) => {
    if (job.retriedBy !== null) {
      return (
        <a className="retried-link" href={routeHref({ name: "job", id: job.retriedBy })}>
          Retried as <span className="mono">{shortId(job.retriedBy)}</span>
        </a>
      );
    }
    if (job.status !== "failed") return <span className="muted">–</span>;
    const busy = retry.busy.has(job.id);
    return (
      <button
        type="button"
        className="button button--small"
        onClick={() => retry.onRetry(job)}
        aria-disabled={busy}
        aria-label={`Retry job ${shortId(job.id)}`}
      >
        {busy ? "Retrying…" : "Retry"}
      </button>
    );
  },
};

const COLUMNS: Record<JobListView, Column[]> = {
  pending: [
    jobColumn,
    payloadColumn,
    statusColumn,
    tenantColumn,
    attemptsColumn,
    { header: "Created", cell: (job, now) => <When date={job.createdAt} now={now} /> },
    {
      header: "Runs",
      cell: (job, now) =>
        job.runAt.getTime() > now + 1000 ? <When date={job.runAt} now={now} future /> : <span className="muted">when a worker is free</span>,
    },
  ],
  running: [
    jobColumn,
    payloadColumn,
    statusColumn,
    { header: "Worker", className: "cell-worker", cell: (job) => <span className="mono">{job.leaseOwner ?? "–"}</span> },
    attemptsColumn,
    { header: "Started", cell: (job, now) => <When date={job.startedAt} now={now} /> },
    {
      header: "Running for",
      className: "cell-num",
      cell: (job, now) =>
        job.startedAt && job.status === "running" ? formatDuration(Math.max(0, now - job.startedAt.getTime())) : "–",
    },
  ],
  done: [
    jobColumn,
    payloadColumn,
    statusColumn,
    tenantColumn,
    attemptsColumn,
    {
      header: "Took",
      className: "cell-num",
      cell: (job) =>
        job.startedAt && job.finishedAt ? formatDuration(job.finishedAt.getTime() - job.startedAt.getTime()) : "–",
    },
    { header: "Finished", cell: (job, now) => <When date={job.finishedAt} now={now} /> },
  ],
  failed: [
    jobColumn,
    payloadColumn,
    statusColumn,
    reasonColumn,
    attemptsColumn,
    { header: "Failed", cell: (job, now) => <When date={job.finishedAt} now={now} /> },
    retryColumn,
  ],
  dlq: [
    jobColumn,
    payloadColumn,
    reasonColumn,
    attemptsColumn,
    tenantColumn,
    { header: "Failed", cell: (job, now) => <When date={job.finishedAt} now={now} /> },
    retryColumn,
  ],
};

interface RowProps {
  job: Job;
  columns: Column[];
  now: number;
  retry: RetryAction;
}

const JobRow = memo(function JobRow({ job, columns, now, retry }: RowProps) {
  return (
    <tr className={job.status === "running" ? "is-running" : undefined} data-job-id={job.id} data-status={job.status}>
      {columns.map((column) => (
        <td key={column.header} className={column.className} data-label={column.header}>
          {column.cell(job, now, retry)}
        </td>
      ))}
    </tr>
  );
});

interface JobTableProps {
  view: JobListView;
  jobs: readonly Job[];
  caption: string;
  now: number;
  retry: RetryAction;
}

export function JobTable({ view, jobs, caption, now, retry }: JobTableProps) {
  const columns = COLUMNS[view];
  return (
    <div className="table-wrap">
      <table className="jobs-table">
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            {columns.map((column) => (
              <th key={column.header} scope="col" className={column.className}>
                {column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {jobs.map((job) => (
            <JobRow key={job.id} job={job} columns={columns} now={now} retry={retry} />
          ))}
        </tbody>
      </table>
    </div>
  );
}
