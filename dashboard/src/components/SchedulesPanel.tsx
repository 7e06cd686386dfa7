import type { ReactNode } from "react";

import type { ResourceState } from "../data/resource";
import { formatAgo, formatDateTime, formatEvery, formatRelative, shortId } from "../format";
import { useNow } from "../hooks";
import { routeHref } from "../routing";
import type { Schedule } from "../services/schedules";
import { EmptyState, ErrorState, LoadingState } from "./States";

interface ScheduleRowActions {
  onSetEnabled: (name: string, enabled: boolean) => void;
  /** Names of schedules whose request is in flight. */
  inFlight: ReadonlySet<string>;
  /** Why this API key may not enable or disable schedules (a read-only key; null: it may). */
  denied: string | null;
}

interface Column {
  header: string;
  hint?: string;
  className?: string;
  cell: (schedule: Schedule, now: number, actions: ScheduleRowActions) => ReactNode;
}

/** The on/off switch of a schedule. It says "Saving…" and sends nothing more until the API
 *  answered, so a double click is one request. */
function EnabledSwitch({ schedule, actions }: { schedule: Schedule; actions: ScheduleRowActions }) {
  const busy = actions.inFlight.has(schedule.name);
  return (
    <button
      type="button"
      role="switch"
      className="switch"
      aria-checked={schedule.enabled}
      aria-disabled={busy || actions.denied !== null}
      aria-label={`Enable schedule ${schedule.name}`}
      title={actions.denied ?? (schedule.enabled ? "Enabled: click to disable" : "Disabled: click to enable")}
      onClick={() => {
        if (!busy && actions.denied === null) actions.onSetEnabled(schedule.name, !schedule.enabled);
      }}
    >
      <span className="switch__track" aria-hidden="true">
        <span className="switch__thumb" />
      </span>
      <span className="switch__text">{busy ? "Saving…" : schedule.enabled ? "On" : "Off"}</span>
    </button>
  );
}

function When({ date, now, future = false }: { date: Date; now: number; future?: boolean }) {
  return (
    <time dateTime={date.toISOString()} title={formatDateTime(date)}>
      {future ? formatRelative(date, now) : formatAgo(date, now)}
    </time>
  );
}

function NextRun({ schedule, now }: { schedule: Schedule; now: number }) {
  if (!schedule.enabled) return <span className="muted">disabled</span>;
  if (schedule.nextRunAt === null) return <span className="muted">–</span>;
  // A tick that is due fires within the scheduler's poll: "due" rather than "2 s ago".
  if (schedule.nextRunAt.getTime() <= now) return <span title={formatDateTime(schedule.nextRunAt)}>due now</span>;
  return <When date={schedule.nextRunAt} now={now} future />;
}

function LastRun({ schedule, now }: { schedule: Schedule; now: number }) {
  if (schedule.lastRunAt === null) return <span className="muted">never</span>;
  return (
    <span className="schedule__last">
      <When date={schedule.lastRunAt} now={now} />
      {schedule.lastJobId !== null && (
        <a
          className="mono job-link"
          href={routeHref({ name: "job", id: schedule.lastJobId })}
          title={schedule.lastJobId}
          aria-label={`Last job of schedule ${schedule.name}: ${shortId(schedule.lastJobId)}`}
        >
          {shortId(schedule.lastJobId)}
        </a>
      )}
    </span>
  );
}

const COLUMNS: Column[] = [
  {
    header: "Schedule",
    className: "cell-schedule",
    cell: (schedule) => (
      <span className="schedule__name">
        <span className="mono">{schedule.name}</span>
        {schedule.source === "code" && (
          <span className="tag" title="Declared in the workers' code: they write it again when they start, keeping whether it is enabled">
            code
          </span>
        )}
      </span>
    ),
  },
  { header: "Task", cell: (schedule) => <span className="mono">{schedule.task}</span> },
  {
    header: "Runs",
    hint: "A cron expression, read in the schedule's timezone, or a fixed interval",
    cell: (schedule) =>
      schedule.cron !== null ? (
        <code title="cron: minute hour day-of-month month day-of-week">{schedule.cron}</code>
      ) : schedule.intervalSec !== null ? (
        formatEvery(schedule.intervalSec)
      ) : (
        <span className="muted">–</span>
      ),
  },
  { header: "Timezone", cell: (schedule) => schedule.timezone },
  {
    header: "Queue",
    cell: (schedule) => (
      <>
        <span className="mono">{schedule.queue}</span>
        {schedule.tenant !== "default" && <span className="muted"> · {schedule.tenant}</span>}
      </>
    ),
  },
  { header: "Next run", cell: (schedule, now) => <NextRun schedule={schedule} now={now} /> },
  {
    header: "Last run",
    hint: "The last tick that fired, and the job it made",
    cell: (schedule, now) => <LastRun schedule={schedule} now={now} />,
  },
  {
    header: "Enabled",
    className: "cell-action",
    cell: (schedule, _now, actions) => <EnabledSwitch schedule={schedule} actions={actions} />,
  },
];

interface SchedulesPanelProps extends ScheduleRowActions {
  state: ResourceState<Schedule[]>;
  onReload: () => void;
}

export function SchedulesPanel({ state, onSetEnabled, inFlight, denied, onReload }: SchedulesPanelProps) {
  const schedules = state.data?.data ?? null;
  const now = useNow(1000);
  const actions = { onSetEnabled, inFlight, denied };
  const disabled = schedules?.filter((schedule) => !schedule.enabled).length ?? 0;

  let body;
  if (schedules === null && state.error) {
    body =
      state.error.status === 404 ? (
        <EmptyState title="This server has no schedules">
          Its API does not offer <code>/schedules</code>: it is older than this dashboard.
        </EmptyState>
      ) : (
        <ErrorState title="Could not load the schedules" error={state.error} onRetry={onReload} />
      );
  } else if (schedules === null) {
    body = <LoadingState label="Loading schedules…" />;
  } else if (schedules.length === 0) {
    body = (
      <EmptyState title="No schedules">
        Create one with <code>POST /schedules</code>, or declare one in the workers' code: each is listed here with
        its next and last run.
      </EmptyState>
    );
  } else {
    body = (
      <div className="table-wrap">
        <table className="jobs-table schedules-table">
          <caption className="sr-only">Schedules by name, with their next and last runs</caption>
          <thead>
            <tr>
              {COLUMNS.map((column) => (
                <th key={column.header} scope="col" className={column.className} title={column.hint}>
                  {column.header}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {schedules.map((schedule) => (
              <tr
                key={schedule.name}
                className={schedule.enabled ? undefined : "is-disabled"}
                data-schedule={schedule.name}
                data-enabled={schedule.enabled}
              >
                {COLUMNS.map((column) => (
                  <td key={column.header} className={column.className} data-label={column.header}>
                    {column.cell(schedule, now, actions)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );
  }

  return (
    <section className="panel jobs schedules" aria-labelledby="schedules-title">
      <div className="jobs__head queues__head">
        <h2 id="schedules-title" className="panel__title" tabIndex={-1}>
          Schedules
        </h2>
        {schedules !== null && schedules.length > 0 && (
          <span className="muted">
            {schedules.length} {schedules.length === 1 ? "schedule" : "schedules"}
            {disabled > 0 && ` · ${disabled} disabled`}
          </span>
        )}
        {state.data !== null && state.error && (
          <p className="jobs__stale" role="status">
            Showing the last data received: {state.error.message}
          </p>
        )}
      </div>
      <p className="muted queues__note">
        Each schedule submits its task as a job at every tick. A disabled one fires nothing until it is enabled again;
        the jobs it already made are untouched.
        {denied !== null && (
          <>
            {" "}
            <span data-testid="schedules-denied">{denied}</span>
          </>
        )}
      </p>
      <div className="jobs__panel" aria-busy={state.loading} data-testid="schedules">
        {body}
      </div>
    </section>
  );
}
