import { useId } from "react";

import { formatAgo } from "../format";
import type { ApiError } from "../services/api";
import type { WorkerInfo } from "../services/jobs";

export function WorkersPanel({ workers, error, now }: { workers: readonly WorkerInfo[] | null; error: ApiError | null; now: number }) {
  const titleId = useId();
  const busy = workers?.reduce((sum, worker) => sum + worker.running, 0) ?? 0;
  const slots = workers?.reduce((sum, worker) => sum + worker.concurrency, 0) ?? 0;
  return (
    <section className="panel workers" aria-labelledby={titleId}>
      <div className="workers__head">
        <h2 id={titleId} className="panel__title">
          Workers
        </h2>
        {workers !== null && (
          <span className="muted">
            {workers.length} {workers.length === 1 ? "worker" : "workers"} · {busy} of {slots} slots busy
          </span>
        )}
      </div>
      {workers === null ? (
        <p className="muted">{error ? `Unavailable: ${error.message}` : "Loading…"}</p>
      ) : workers.length === 0 ? (
        <p className="muted">No worker has reported in the last few seconds. Jobs wait in Pending until one does.</p>
      ) : (
        <ul className="workers__list">
          {workers.map((worker) => (
            <li key={worker.id} className="workers__item">
              <span className="mono workers__id" title={worker.id}>
                {worker.host}:{worker.pid}
              </span>
              <span className="workers__slots" role="img" aria-label={`${worker.running} of ${worker.concurrency} slots busy`}>
                {Array.from({ length: Math.min(worker.concurrency, 16) }, (_, index) => (
                  <span key={index} className={`slot${index < worker.running ? " slot--busy" : ""}`} aria-hidden="true" />
                ))}
              </span>
              <span className="muted workers__meta">
                {worker.queues.join(", ")}
                {worker.lastSeenAt && ` · seen ${formatAgo(worker.lastSeenAt, now)}`}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
