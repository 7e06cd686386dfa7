import { type ReactNode, useEffect, useRef } from "react";

import type { ResourceState } from "../data/resource";
import { eventLabel, formatAgo, formatDateTime, formatDuration, formatRelative, shortId } from "../format";
import { useNow } from "../hooks";
import { isProgressEvent } from "../live/apply";
import { routeHref } from "../routing";
import { canCancel, canRetry, isTerminal, type Job, type JobEvent } from "../services/jobs";
import { ProgressBar } from "./ProgressBar";
import { StatusBadge } from "./StatusBadge";
import { ErrorState, LoadingState } from "./States";

function JobLink({ id }: { id: string }) {
  return (
    <a className="mono" href={routeHref({ name: "job", id })} title={id}>
      {shortId(id)}
    </a>
  );
}

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="field">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function Timestamp({ date, now, future = false }: { date: Date | null; now: number; future?: boolean }) {
  if (date === null) return <span className="muted">–</span>;
  return (
    <time dateTime={date.toISOString()}>
      {formatDateTime(date)} <span className="muted">({future ? formatRelative(date, now) : formatAgo(date, now)})</span>
    </time>
  );
}

function Json({ value, label }: { value: unknown; label: string }) {
  return (
    <pre className="code" tabIndex={0} aria-label={label}>
      {JSON.stringify(value, null, 2) ?? "null"}
    </pre>
  );
}

function EventData({ event }: { event: JobEvent }) {
  const { data } = event;
  return (
    <>
      {typeof data.runtime === "number" && <span>ran {formatDuration(data.runtime * 1000)}</span>}
      {typeof data.retry_in === "number" && <span>next try in {formatDuration(data.retry_in * 1000)}</span>}
      {typeof data.retry_of === "string" && (
        <span>
          retry of <JobLink id={data.retry_of} />
        </span>
      )}
      {typeof data.retried_by === "string" && (
        <span>
          retried as <JobLink id={data.retried_by} />
        </span>
      )}
    </>
  );
}

/** A failed attempt's Python traceback, folded: the error above it says what went wrong, and
 *  the traceback is there for whoever needs where. */
function Traceback({ event }: { event: JobEvent }) {
  const { traceback, error_type: errorType } = event.data;
  if (typeof traceback !== "string" || traceback === "") return null;
  return (
    <details className="traceback">
      <summary>Traceback{typeof errorType === "string" && errorType !== "" ? ` (${errorType})` : ""}</summary>
      <pre className="code traceback__text" tabIndex={0} aria-label={`Traceback of event ${event.seq}`}>
        {traceback}
      </pre>
    </details>
  );
}

function Timeline({ events }: { events: readonly JobEvent[] }) {
  // Progress reports are the bar above, not steps of the job's life.
  const steps = events.filter((event) => !isProgressEvent(event));
  if (steps.length === 0) return <p className="muted">No events recorded.</p>;
  return (
    <ol className="timeline" aria-label="Event timeline, oldest first">
      {steps.map((event) => (
        <li key={event.seq} className={`timeline__item timeline__item--${event.status}`} data-event-type={event.type}>
          <span className="timeline__marker" aria-hidden="true" />
          <div className="timeline__body">
            <div className="timeline__head">
              <strong>{eventLabel(event.type)}</strong>
              <StatusBadge status={event.status} />
              <time className="muted" dateTime={event.at.toISOString()}>
                {formatDateTime(event.at)}
              </time>
            </div>
            <div className="timeline__meta muted">
              <span>attempt {event.attempt}</span>
              {event.worker && (
                <span>
                  worker <span className="mono">{event.worker}</span>
                </span>
              )}
              <EventData event={event} />
              <span className="mono">#{event.seq}</span>
            </div>
            {event.error && <p className="timeline__error">{event.error}</p>}
            <Traceback event={event} />
          </div>
        </li>
      ))}
    </ol>
  );
}

interface JobDetailProps {
  id: string;
  state: ResourceState<Job>;
  onRetry: (job: Job) => void;
  retrying: boolean;
  onCancel: (job: Job) => void;
  cancelling: boolean;
  /** Why this API key may not retry or cancel (null: it may): the buttons are off and say so. */
  denied: string | null;
  onReload: () => void;
  backHref: string;
  backLabel: string;
}

export function JobDetail({
  id,
  state,
  onRetry,
  retrying,
  onCancel,
  cancelling,
  denied,
  onReload,
  backHref,
  backLabel,
}: JobDetailProps) {
  const heading = useRef<HTMLHeadingElement>(null);
  const job = state.data?.data ?? null;
  const now = useNow(job?.status === "running" ? 1000 : 5000);

  useEffect(() => {
    heading.current?.focus();
  }, [id]);

  let body: ReactNode;
  if (job === null && state.error) {
    body =
      state.error.status === 404 ? (
        <div className="state state--empty" role="alert">
          <p className="state__title">No job with this id</p>
          <p className="state__body mono">{id}</p>
        </div>
      ) : (
        <ErrorState title="Could not load the job" error={state.error} onRetry={onReload} />
      );
  } else if (job === null) {
    body = <LoadingState label="Loading the job…" />;
  } else {
    const duration =
      job.startedAt && (job.finishedAt || job.status === "running")
        ? formatDuration(Math.max(0, (job.finishedAt?.getTime() ?? now) - job.startedAt.getTime()))
        : null;
    body = (
      <>
        <div className="detail__status">
          <StatusBadge status={job.status} />
          <span className="muted">
            {job.task} on queue {job.queue}, tenant {job.tenant}
          </span>
          {canRetry(job.status) && job.retriedBy === null && (
            <button
              type="button"
              className="button button--primary button--small"
              onClick={() => {
                if (denied === null) onRetry(job);
              }}
              aria-disabled={retrying || denied !== null}
              title={denied ?? undefined}
            >
              {retrying ? "Retrying…" : "Retry"}
            </button>
          )}
          {canCancel(job.status) && job.cancelRequestedAt === null && (
            <button
              type="button"
              className="button button--danger button--small"
              onClick={() => {
                if (denied === null) onCancel(job);
              }}
              aria-disabled={cancelling || denied !== null}
              title={denied ?? undefined}
            >
              {cancelling ? "Cancelling…" : "Cancel"}
            </button>
          )}
        </div>

        {job.status === "pending" && job.runAt.getTime() > now + 1000 && (
          <p className="detail__note" data-testid="scheduled">
            Scheduled for <Timestamp date={job.runAt} now={now} future />
          </p>
        )}
        {job.status === "running" && job.cancelRequestedAt !== null && (
          <p className="detail__note detail__note--stopping" data-testid="cancel-requested">
            Cancellation requested <Timestamp date={job.cancelRequestedAt} now={now} />: the job stops shortly.
          </p>
        )}

        {job.progress !== null && (
          <div className="detail__progress">
            <h3 className="section-title">{job.status === "running" ? "Progress" : "Last reported progress"}</h3>
            <ProgressBar
              progress={job.progress}
              message={job.progressMessage}
              label={`Progress of job ${shortId(job.id)}`}
              showMessage
            />
          </div>
        )}

        {(job.retryOf !== null || job.retriedBy !== null) && (
          <ul className="detail__links" aria-label="Related jobs">
            {job.retryOf !== null && (
              <li data-testid="retry-of">
                Retry of <JobLink id={job.retryOf} /> (the original job, which failed)
              </li>
            )}
            {job.retriedBy !== null && (
              <li data-testid="retried-by">
                Retried as <JobLink id={job.retriedBy} /> (a new job with the same payload)
              </li>
            )}
          </ul>
        )}

        {job.lastError && (
          <div className="detail__error" role="note" aria-label="Last error">
            <strong>{job.status === "failed" ? "Failed: " : "Last error: "}</strong>
            {job.lastError}
          </div>
        )}

        <dl className="fields">
          <Field label="Id">
            <span className="mono break">{job.id}</span>
          </Field>
          <Field label="Attempts">
            {job.attempts} of at most {job.maxRetries + 1} ({job.maxRetries} retries)
          </Field>
          <Field label="Trace id">
            <span className="mono break">{job.traceId ?? "–"}</span>
          </Field>
          <Field label="Priority">{job.priority}</Field>
          {job.schedule !== null && (
            <>
              <Field label="Schedule">
                <a className="mono" href={routeHref({ name: "schedules" })} data-testid="job-schedule">
                  {job.schedule}
                </a>
              </Field>
              <Field label="Scheduled for">
                <span data-testid="job-scheduled-for">
                  <Timestamp date={job.scheduledFor} now={now} />
                </span>
              </Field>
            </>
          )}
          {job.timeoutSec !== null && (
            <Field label="Timeout">{formatDuration(job.timeoutSec * 1000)} per attempt</Field>
          )}
          <Field label="Created">
            <Timestamp date={job.createdAt} now={now} />
          </Field>
          <Field label="Run at">
            <Timestamp date={job.runAt} now={now} future />
          </Field>
          <Field label="Started">
            <Timestamp date={job.startedAt} now={now} />
          </Field>
          <Field label="Finished">
            <Timestamp date={job.finishedAt} now={now} />
          </Field>
          <Field label={job.status === "running" ? "Running for" : "Took"}>{duration ?? "–"}</Field>
          <Field label="Worker">
            <span className="mono">{job.leaseOwner ?? "–"}</span>
            {job.leaseExpiresAt && <span className="muted"> (lease until {formatDateTime(job.leaseExpiresAt)})</span>}
          </Field>
          <Field label="Idempotency key">
            <span className="mono break">{job.idempotencyKey ?? "–"}</span>
          </Field>
        </dl>

        <div className="detail__columns">
          <div>
            <h3 className="section-title">Payload</h3>
            <Json value={job.payload} label="Payload (JSON)" />
          </div>
          <div>
            <h3 className="section-title">Result</h3>
            {job.result === null || job.result === undefined ? (
              <p className="muted">{isTerminal(job.status) ? "No result." : "No result yet."}</p>
            ) : (
              <Json value={job.result} label="Result (JSON)" />
            )}
          </div>
        </div>

        <h3 className="section-title">Timeline</h3>
        <Timeline events={job.events ?? []} />
      </>
    );
  }

  return (
    <section className="panel detail" aria-labelledby="job-title" aria-busy={state.loading && job === null}>
      <nav className="breadcrumb" aria-label="Breadcrumb">
        <a href={backHref}>← {backLabel}</a>
      </nav>
      <h2 id="job-title" className="panel__title detail__title" ref={heading} tabIndex={-1}>
        Job <span className="mono">{shortId(id)}</span>
      </h2>
      {body}
    </section>
  );
}
