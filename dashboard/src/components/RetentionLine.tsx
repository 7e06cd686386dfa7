import { describeRetention, describeStatusRetention, formatAgo, formatCount, formatDateTime } from "../format";
import type { JobListView } from "../services/jobs";
import { viewStatus } from "../services/jobs";
import { RETAINED_STATUSES, type RetainedStatus, type Retention } from "../services/retention";

function retained(view: JobListView): RetainedStatus | null {
  const status = viewStatus(view);
  return status !== null && (RETAINED_STATUSES as readonly string[]).includes(status) ? (status as RetainedStatus) : null;
}

/** Under a list of finished jobs: how long its jobs are kept. Nothing for other lists, nor
 *  before the policy is known. */
export function ListRetention({ view, retention }: { view: JobListView; retention: Retention | null }) {
  const status = retained(view);
  if (status === null || retention === null) return null;
  return (
    <p className="muted jobs__retention" data-testid="retention-note">
      {describeStatusRetention(status, retention)}
    </p>
  );
}

/** The whole policy, in the footer: what is kept, and when retention last pruned. */
export function RetentionSummary({ retention, now }: { retention: Retention | null; now: number }) {
  if (retention === null) return null;
  const lastRun = retention.lastRunAt;
  return (
    <span data-testid="retention">
      {describeRetention(retention)}
      {retention.enabled && lastRun !== null && (
        <span title={formatDateTime(lastRun)}>
          {" "}
          (last pruned {formatAgo(lastRun, now)}; {formatCount(retention.prunedJobsTotal)} deleted in all)
        </span>
      )}
    </span>
  );
}
