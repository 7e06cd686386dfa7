import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import { LiveIndicator } from "./components/LiveIndicator";
import { JobDetail } from "./components/JobDetail";
import { JobsPanel, VIEW_LABELS } from "./components/JobsPanel";
import { MetricsCards } from "./components/MetricsCards";
import { findProblem, ProblemBanner } from "./components/ProblemBanner";
import { SettingsPanel } from "./components/SettingsPanel";
import { SubmitPanel, type SubmitFeedback } from "./components/SubmitPanel";
import { THROUGHPUT_MINUTES, ThroughputChart } from "./components/ThroughputChart";
import { WorkersPanel } from "./components/WorkersPanel";
import type { DashboardConfig } from "./config";
import { useResource } from "./data/useResource";
import { shortId } from "./format";
import { useInterval, useNow } from "./hooks";
import {
  applyEventToJob,
  applyToJob,
  applyToJobs,
  applyToMetrics,
  applyToPage,
  applyToThroughput,
  type ReceivedEvent,
} from "./live/apply";
import type { SocketLike } from "./live/connection";
import { useLiveEvents } from "./live/useLiveEvents";
import { type Route, routeHref, useRoute } from "./routing";
import { ApiError } from "./services/api";
import {
  getJob,
  getMetrics,
  getThroughput,
  getWorkers,
  type Job,
  type JobListView,
  type JobPage,
  listJobs,
  type LiveEvent,
  newIdempotencyKey,
  queryKeys,
  retryJob,
  type Submission,
  submitJob,
} from "./services/jobs";
import { useCredentials } from "./settings";

/** While the WebSocket is down, poll what the page shows this often. */
export const POLL_MS = 2000;
const WORKERS_POLL_MS = 10_000;
const THROUGHPUT_POLL_MS = 60_000;
const RECENT_LIMIT = 6;
/** Events kept per job id for jobs a POST has not returned yet (a race the feed can win). */
const MEMORY_JOBS = 500;

interface Flash {
  id: number;
  text: string;
  link?: { href: string; label: string };
  tone: "info" | "error";
}

export interface AppProps {
  config: DashboardConfig;
  /** Tests swap the WebSocket. */
  createSocket?: (url: string) => SocketLike;
}

function markRetried(page: JobPage, id: string, retriedBy: string): JobPage {
  return { ...page, jobs: page.jobs.map((job) => (job.id === id ? { ...job, retriedBy } : job)) };
}

export function App({ config, createSocket }: AppProps) {
  const [credentials, saveCredentials] = useCredentials();
  const credentialsRef = useRef(credentials);
  credentialsRef.current = credentials;
  const [route, navigate] = useRoute();
  const lastList = useRef<Extract<Route, { name: "list" }>>({ name: "list", view: "pending", page: 0 });
  if (route.name === "list") lastList.current = route;

  const [settingsOpen, setSettingsOpen] = useState(config.apiKeyRequired && credentials.apiKey === "");
  const [focusKey, setFocusKey] = useState(0);
  const [recent, setRecent] = useState<Job[]>([]);
  const [feedback, setFeedback] = useState<SubmitFeedback>({ kind: "idle" });
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const [retrying, setRetrying] = useState<ReadonlySet<string>>(new Set());
  const [flash, setFlash] = useState<Flash | null>(null);
  const memory = useRef(new Map<string, LiveEvent[]>());
  const onEvents = useRef<(events: ReceivedEvent[]) => void>(() => {});
  const onResync = useRef<() => void>(() => {});

  const live = useLiveEvents({
    apiKey: credentials.apiKey,
    onEvents: (events) => onEvents.current(events),
    onResync: () => onResync.current(),
    ...(createSocket && { createSocket }),
  });
  const seq = live.seq;
  const creds = () => credentialsRef.current;

  const [metricsState, metrics] = useResource(queryKeys.metrics(), (signal) => getMetrics(creds(), signal), seq, 1000);
  const [throughputState, throughput] = useResource(
    queryKeys.throughput(THROUGHPUT_MINUTES),
    (signal) => getThroughput(creds(), THROUGHPUT_MINUTES, signal),
    seq,
    5000,
  );
  const [workersState, workers] = useResource(queryKeys.workers(), (signal) => getWorkers(creds(), signal), seq, 2000);
  const listRoute = route.name === "list" ? route : null;
  const [listState, list] = useResource(
    listRoute ? queryKeys.jobList(listRoute.view, listRoute.page) : null,
    (signal) => listJobs(creds(), listRoute?.view ?? "pending", listRoute?.page ?? 0, signal),
    seq,
    1000,
  );
  const jobId = route.name === "job" ? route.id : null;
  const [detailState, detail] = useResource(
    jobId ? queryKeys.job(jobId) : null,
    (signal) => getJob(creds(), jobId ?? "", signal),
    seq,
    1000,
  );

  const everything = [metrics, throughput, workers, list, detail];
  const visible = [metrics, list, detail];

  onEvents.current = (events) => {
    const remembered = memory.current;
    for (const event of events) {
      const known = remembered.get(event.jobId);
      remembered.delete(event.jobId);
      remembered.set(event.jobId, known ? [...known, event] : [event]);
    }
    for (const id of remembered.keys()) {
      if (remembered.size <= MEMORY_JOBS) break;
      remembered.delete(id);
    }
    metrics?.apply((data, asOf) => applyToMetrics(data, events, asOf));
    metrics?.refetch(); // reconcile the counts moved by events, at most once a second
    throughput?.apply((data, asOf) => applyToThroughput(data, events, asOf));
    if (listRoute) list?.apply((data, asOf) => applyToPage(data, listRoute.view, events, asOf));
    detail?.apply((data, asOf) => applyToJob(data, events, asOf));
    setRecent((jobs) => applyToJobs(jobs, events));
  };
  onResync.current = () => {
    for (const resource of everything) resource?.refetch();
  };

  // Live by events; polling only while the WebSocket is down.
  useInterval(
    () => {
      for (const resource of visible) resource?.refetch();
    },
    live.state.status === "live" ? null : POLL_MS,
  );
  useInterval(() => workers?.refetch(), WORKERS_POLL_MS);
  useInterval(() => throughput?.refetch(), THROUGHPUT_POLL_MS);
  const now = useNow(30_000);

  // A new API key: everything is fetched again with it.
  const firstKey = useRef(true);
  useEffect(() => {
    if (firstKey.current) {
      firstKey.current = false;
      return;
    }
    setActionError(null);
    for (const resource of everything) resource?.refetchNow();
  }, [credentials.apiKey]);

  const showFlash = useCallback((next: Omit<Flash, "id">) => {
    setFlash({ ...next, id: Date.now() });
  }, []);
  useEffect(() => {
    if (flash === null) return;
    const timer = setTimeout(() => setFlash(null), flash.tone === "error" ? 12_000 : 8000);
    return () => clearTimeout(timer);
  }, [flash]);

  const submit = useCallback(
    async (submission: Submission) => {
      setFeedback({ kind: "sending" });
      try {
        const created = await submitJob(credentialsRef.current, submission, newIdempotencyKey());
        const seen = memory.current.get(created.id) ?? [];
        const current = seen.reduce(applyEventToJob, created);
        setRecent((jobs) => [current, ...jobs.filter((job) => job.id !== created.id)].slice(0, RECENT_LIMIT));
        setFeedback({ kind: "idle" });
        setActionError(null);
        showFlash({
          tone: "info",
          text: `Submitted job ${shortId(created.id)}.`,
          link: { href: routeHref({ name: "job", id: created.id }), label: "View job" },
        });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.isRateLimited) {
          const seconds = Math.ceil(error.retryAfterSec ?? 60);
          setFeedback({
            kind: "rate_limited",
            until: Date.now() + seconds * 1000,
            seconds,
            message: `Rate limited: ${error.message}.`.replace(/\.\.$/, "."),
          });
        } else {
          if (error.isUnauthorized) setActionError(error);
          setFeedback({
            kind: "error",
            message: error.isUnauthorized
              ? "Not submitted: the API needs a valid API key (see “API key & tenant”)."
              : `Not submitted: ${error.message}`,
          });
        }
      }
    },
    [showFlash],
  );

  const retryingRef = useRef(retrying);
  retryingRef.current = retrying;
  const listRef = useRef(list);
  listRef.current = list;
  const detailRef = useRef(detail);
  detailRef.current = detail;

  const retry = useCallback(
    async (job: Job) => {
      if (retryingRef.current.has(job.id)) return;
      setRetrying((ids) => new Set(ids).add(job.id));
      try {
        const created = await retryJob(credentialsRef.current, job.id);
        listRef.current?.apply((page) => ({ data: markRetried(page, job.id, created.id), stale: false }));
        detailRef.current?.apply((open) => ({
          data: open.id === job.id ? { ...open, retriedBy: created.id } : open,
          stale: open.id === job.id,
        }));
        setRecent((jobs) => [created, ...jobs].slice(0, RECENT_LIMIT));
        setActionError(null);
        showFlash({
          tone: "info",
          text: `Job ${shortId(job.id)} retried as new job ${shortId(created.id)}.`,
          link: { href: routeHref({ name: "job", id: created.id }), label: "View the new job" },
        });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.isUnauthorized) setActionError(error);
        showFlash({ tone: "error", text: `Retry of job ${shortId(job.id)} failed: ${error.message}` });
        listRef.current?.refetch();
        detailRef.current?.refetch();
      } finally {
        setRetrying((ids) => {
          const next = new Set(ids);
          next.delete(job.id);
          return next;
        });
      }
    },
    [showFlash],
  );
  const retryAction = useMemo(() => ({ onRetry: (job: Job) => void retry(job), busy: retrying }), [retry, retrying]);

  const problem = findProblem({
    errors: [metricsState.error, listState.error, detailState.error, actionError],
    liveStatus: live.state.status,
    apiKeyRequired: config.apiKeyRequired,
    apiKey: credentials.apiKey,
  });
  const authProblem = problem?.kind === "auth";
  useEffect(() => {
    if (authProblem) setSettingsOpen(true);
  }, [authProblem]);

  const enterKey = () => {
    setSettingsOpen(true);
    setFocusKey((count) => count + 1);
  };

  // Coming back from a job's page, put keyboard focus on the lists rather than lose it.
  const previousRoute = useRef(route.name);
  useEffect(() => {
    if (previousRoute.current === "job" && route.name === "list") document.getElementById("jobs-title")?.focus();
    previousRoute.current = route.name;
  }, [route.name]);

  // The tab's title carries the counts, for operators who keep it in the background.
  const counts = metricsState.data?.data;
  useEffect(() => {
    document.title = counts
      ? `conveyor · ${counts.pending} pending · ${counts.running} running · ${counts.dlqCount} in DLQ`
      : "conveyor";
  }, [counts]);

  const goToList = (view: JobListView, page: number) => navigate({ name: "list", view, page });
  const metricsData = metricsState.data?.data ?? null;

  return (
    <div className="app">
      <a
        className="skip-link"
        href="#main"
        onClick={(event) => {
          event.preventDefault();
          document.getElementById("main")?.focus();
        }}
      >
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar__inner">
          <a className="brand" href={routeHref({ name: "list", view: "pending", page: 0 })} aria-label="conveyor, home">
            <span className="brand__mark" aria-hidden="true" />
            conveyor
          </a>
          <LiveIndicator state={live.state} onReconnect={live.reconnectNow} />
          <button
            type="button"
            className="topbar__settings"
            aria-expanded={settingsOpen}
            aria-controls="settings"
            onClick={() => setSettingsOpen(!settingsOpen)}
          >
            API key &amp; tenant
            {credentials.apiKey !== "" && <span className="topbar__badge">key set</span>}
          </button>
        </div>
        <div className="topbar__panel" hidden={!settingsOpen}>
          <SettingsPanel
            id="settings"
            credentials={credentials}
            onSave={saveCredentials}
            focusKey={focusKey}
            keyRequired={config.apiKeyRequired}
          />
        </div>
      </header>

      <main id="main" className="main" tabIndex={-1}>
        <ProblemBanner problem={problem} onEnterKey={enterKey} />
        <div className="flash-slot" role="status">
          {flash && (
            <div className={`flash flash--${flash.tone}`} key={flash.id}>
              {flash.text}{" "}
              {flash.link && <a href={flash.link.href}>{flash.link.label}</a>}
              <button type="button" className="flash__close" aria-label="Dismiss" onClick={() => setFlash(null)}>
                ×
              </button>
            </div>
          )}
        </div>
        <MetricsCards metrics={metricsData} loading={metricsState.loading} />

        {route.name === "list" ? (
          <>
            <div className="overview">
              <SubmitPanel onSubmit={(submission) => void submit(submission)} feedback={feedback} recent={recent} />
              <div className="overview__side">
                <ThroughputChart
                  buckets={throughputState.data?.data ?? null}
                  minutes={THROUGHPUT_MINUTES}
                  now={now}
                  error={throughputState.error}
                />
                <WorkersPanel workers={workersState.data?.data ?? null} error={workersState.error} now={now} />
              </div>
            </div>
            <JobsPanel
              view={route.view}
              page={route.page}
              list={listState}
              metrics={metricsData}
              onNavigate={goToList}
              onReload={() => list?.refetchNow()}
              retry={retryAction}
            />
          </>
        ) : (
          <JobDetail
            id={route.id}
            state={detailState}
            onRetry={(job) => void retry(job)}
            retrying={retrying.has(route.id)}
            onReload={() => detail?.refetchNow()}
            backHref={routeHref(lastList.current)}
            backLabel={`Back to ${VIEW_LABELS[lastList.current.view].toLowerCase()} jobs`}
          />
        )}
      </main>
      <footer className="footer">
        conveyor{config.version ? ` ${config.version}` : ""} · <a href="/docs">API reference</a> ·{" "}
        <a href="/metrics?format=prometheus">Prometheus metrics</a>
      </footer>
    </div>
  );
}
