// The page: the hooks that hold its state, by concern, and the layout that shows it.
//   useLiveEvents     the /ws feed (live/): its state, its seq, subscribe
//   useDashboardData  the server data shown (data/ resources over services/)
//   useJobActions     submit, retry and cancel, with their pending and error state
//   useQueueActions   pause and resume a queue, likewise
//   useScheduleActions enable and disable a schedule, likewise
//   useRedrive        the DLQ's redrive by filter: its preview, its loop and its progress
//   useBulk           the rows picked, and a bulk retry or cancel (preview, loop, progress)
//   useListControls   tabs, the search and tenant filter (in the address), which rows to pick
//   useCharts         the Charts view's samples
//   useFlash          the one message saying how the last action went, shared by them
//   useLiveUpdates    the feed's events applied to the data and the jobs submitted here, and
//                     polling while it is down
// Who the API key is (`/whoami`, in the data) decides what the header says and which controls
// are on (access.ts).

import { type ReactNode, useCallback, useMemo } from "react";

import { accessOf, actingCredentials } from "./access";
import { useBulk } from "./app/useBulk";
import { useCharts } from "./app/useCharts";
import { useDashboardData } from "./app/useDashboardData";
import { useFlash } from "./app/useFlash";
import { useJobActions } from "./app/useJobActions";
import { useListControls } from "./app/useListControls";
import { useLiveUpdates } from "./app/useLiveUpdates";
import { useFocusListsOnReturn, usePageTitle } from "./app/pageEffects";
import { useQueueActions } from "./app/useQueueActions";
import { useRedrive } from "./app/useRedrive";
import { useScheduleActions } from "./app/useScheduleActions";
import { useSettingsDrawer } from "./app/useSettingsDrawer";
import { BulkBar } from "./components/BulkBar";
import { ChartsPanel } from "./components/ChartsPanel";
import { LiveIndicator } from "./components/LiveIndicator";
import { JobDetail } from "./components/JobDetail";
import { JobsPanel, VIEW_LABELS } from "./components/JobsPanel";
import { MetricsCards } from "./components/MetricsCards";
import { findProblem, ProblemBanner } from "./components/ProblemBanner";
import { QueuesPanel } from "./components/QueuesPanel";
import { RedrivePanel } from "./components/RedrivePanel";
import { RetentionSummary } from "./components/RetentionLine";
import { SchedulesPanel } from "./components/SchedulesPanel";
import { SettingsPanel } from "./components/SettingsPanel";
import { SubmitPanel } from "./components/SubmitPanel";
import { THROUGHPUT_MINUTES, ThroughputChart } from "./components/ThroughputChart";
import { WorkersPanel } from "./components/WorkersPanel";
import type { DashboardConfig } from "./config";
import { useNow } from "./hooks";
import type { SocketLike } from "./live/connection";
import { useLiveEvents } from "./live/useLiveEvents";
import { type ChartMinutes, HOME, type Route, routeHref, useRoute } from "./routing";
import { useCredentials } from "./settings";

/** The page's views, in the top bar: the jobs (their lists and a job's page), and the others. */
type View = "jobs" | "queues" | "schedules" | "charts";
const VIEW_LINKS: readonly { label: string; view: View }[] = [
  { label: "Jobs", view: "jobs" },
  { label: "Queues", view: "queues" },
  { label: "Schedules", view: "schedules" },
  { label: "Charts", view: "charts" },
];

function viewHref(view: View, lastList: Route): string {
  switch (view) {
    case "jobs":
      return routeHref(lastList);
    case "charts":
      return routeHref({ name: "charts", minutes: 60 });
    default:
      return routeHref({ name: view });
  }
}

function viewOf(route: Route): View {
  return route.name === "list" || route.name === "job" ? "jobs" : route.name;
}

export interface AppProps {
  config: DashboardConfig;
  /** Tests swap the WebSocket. */
  createSocket?: (url: string) => SocketLike;
}

export function App({ config, createSocket }: AppProps) {
  const [credentials, saveCredentials] = useCredentials();
  const [route, navigate, lastList] = useRoute();

  // The feed first: the data is stamped with its seq. The data and the actions then subscribe
  // to it through useLiveUpdates.
  const live = useLiveEvents({ apiKey: credentials.apiKey, ...(createSocket && { createSocket }) });
  const data = useDashboardData({ route, credentials, currentSeq: live.seq });
  const whoami = data.whoami.data?.data ?? null;
  const access = useMemo(() => accessOf(whoami), [whoami]);
  // Actions act for the key's tenant, if it has one, whatever the settings name.
  const acting = useMemo(() => actingCredentials(credentials, access), [credentials, access]);
  const [flash, showFlash, dismissFlash] = useFlash();
  const actions = useJobActions({ credentials: acting, data, showFlash });
  const queueActions = useQueueActions({ credentials: acting, data, showFlash });
  const scheduleActions = useScheduleActions({ credentials: acting, data, showFlash });
  const redrive = useRedrive({ credentials: acting, data });
  const bulk = useBulk({ credentials: acting, data });
  const controls = useListControls({ route, navigate, bulk, access });
  const charts = useCharts({ route, credentials, currentSeq: live.seq });
  // Stable, as the memoized charts panel needs.
  const showChartsWindow = useCallback((minutes: ChartMinutes) => navigate({ name: "charts", minutes }), [navigate]);
  const rowActions = useMemo(
    () => ({ ...actions.rowActions, denied: access.writeDenied }),
    [actions.rowActions, access.writeDenied],
  );
  useLiveUpdates({ live, data, actions });

  const problem = findProblem({
    errors: [
      data.whoami.error,
      data.metrics.error,
      data.list.error,
      data.detail.error,
      data.queues.error,
      data.schedules.error,
      actions.authError,
      queueActions.authError,
      scheduleActions.authError,
      redrive.authError,
      bulk.authError,
    ],
    liveStatus: live.state.status,
    apiKeyRequired: config.apiKeyRequired,
    apiKey: credentials.apiKey,
  });
  const settings = useSettingsDrawer(problem?.kind === "auth");

  const now = useNow(30_000);
  const metrics = data.metrics.data?.data ?? null;
  usePageTitle(metrics);
  useFocusListsOnReturn(route.name);


  let content: ReactNode;
  switch (route.name) {
    case "list":
      content = (
        <>
          <div className="overview">
            <SubmitPanel
              onSubmit={(submission) => void actions.submit(submission)}
              feedback={actions.feedback}
              recent={actions.recent}
              denied={access.writeDenied}
            />
            <div className="overview__side">
              <ThroughputChart
                buckets={data.throughput.data?.data ?? null}
                minutes={THROUGHPUT_MINUTES}
                now={now}
                error={data.throughput.error}
              />
              <WorkersPanel workers={data.workers.data?.data ?? null} error={data.workers.error} now={now} />
            </div>
          </div>
          <JobsPanel
            view={route.view}
            list={data.list}
            metrics={metrics}
            onNavigate={controls.goToList}
            paging={data.paging}
            filter={data.listFilter}
            onFilterChange={controls.changeFilter}
            selection={controls.selection}
            bulk={
              <BulkBar kind={controls.kind} view={route.view} filter={data.listFilter} bulk={bulk} denied={access.writeDenied} />
            }
            onReload={data.reloadList}
            actions={rowActions}
            retention={data.retention.data?.data ?? null}
            tenant={{ fixed: access.tenant, value: data.listTenant, onChange: controls.filterTenant }}
          >
            {route.view === "dlq" && (
              <RedrivePanel
                state={redrive.state}
                fields={redrive.fields}
                onFieldsChange={redrive.setFields}
                onPreview={(filter) => void redrive.preview(filter)}
                onRun={(filter, ratePerSec) => void redrive.run(filter, ratePerSec)}
                onStop={redrive.stop}
                denied={access.writeDenied}
                fixedTenant={access.tenant}
              />
            )}
          </JobsPanel>
        </>
      );
      break;
    case "job":
      content = (
        <JobDetail
          id={route.id}
          state={data.detail}
          onRetry={(job) => void actions.retry(job)}
          retrying={actions.retrying.has(route.id)}
          onCancel={(job) => void actions.cancel(job)}
          cancelling={actions.cancelling.has(route.id)}
          denied={access.writeDenied}
          onReload={data.reloadDetail}
          backHref={routeHref(lastList)}
          backLabel={`Back to ${VIEW_LABELS[lastList.view].toLowerCase()} jobs`}
        />
      );
      break;
    case "queues":
      content = (
        <QueuesPanel
          state={data.queues}
          onAction={(name, action) => void queueActions.run(name, action)}
          inFlight={queueActions.inFlight}
          denied={access.operateDenied}
          onReload={data.reloadQueues}
        />
      );
      break;
    case "charts":
      content = (
        <ChartsPanel
          data={charts}
          minutes={route.minutes}
          onMinutes={showChartsWindow}
          now={now}
        />
      );
      break;
    case "schedules":
      content = (
        <SchedulesPanel
          state={data.schedules}
          onSetEnabled={(name, enabled) => void scheduleActions.setEnabled(name, enabled)}
          inFlight={scheduleActions.inFlight}
          denied={access.writeDenied}
          onReload={data.reloadSchedules}
        />
      );
      break;
  }

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
          <a className="brand" href={routeHref(HOME)} aria-label="conveyor, home">
            <span className="brand__mark" aria-hidden="true" />
            conveyor
          </a>
          <nav className="views" aria-label="Views">
            {VIEW_LINKS.map(({ label, view }) => (
              <a
                key={label}
                className="views__link"
                href={viewHref(view, lastList)}
                aria-current={viewOf(route) === view ? "page" : undefined}
              >
                {label}
              </a>
            ))}
          </nav>
          <LiveIndicator state={live.state} onReconnect={live.reconnectNow} />
          {access.scope !== null && (
            <span className="scope" data-testid="scope" data-role={whoami?.role} title={access.scopeDetail ?? undefined}>
              <span className="sr-only">Showing: </span>
              {access.scope}
            </span>
          )}
          <button
            type="button"
            className="topbar__settings"
            aria-expanded={settings.open}
            aria-controls="settings"
            onClick={settings.toggle}
          >
            API key &amp; tenant
            {credentials.apiKey !== "" && <span className="topbar__badge">key set</span>}
          </button>
        </div>
        <div className="topbar__panel" hidden={!settings.open}>
          <SettingsPanel
            id="settings"
            credentials={credentials}
            onSave={saveCredentials}
            focusKey={settings.focusKey}
            keyRequired={config.apiKeyRequired}
            fixedTenant={access.tenant}
          />
        </div>
      </header>

      <main id="main" className="main" tabIndex={-1}>
        <ProblemBanner problem={problem} onEnterKey={settings.enterKey} />
        <div className="flash-slot" role="status">
          {flash && (
            <div className={`flash flash--${flash.tone}`} key={flash.id}>
              {flash.text}{" "}
              {flash.link && <a href={flash.link.href}>{flash.link.label}</a>}
              <button type="button" className="flash__close" aria-label="Dismiss" onClick={dismissFlash}>
                ×
              </button>
            </div>
          )}
        </div>
        <MetricsCards metrics={metrics} loading={data.metrics.loading} />

        {content}
      </main>
      <footer className="footer">
        conveyor{config.version ? ` ${config.version}` : ""} · <a href="/docs">API reference</a>
        {/* The Prometheus format covers every tenant: admin keys only. */}
        {access.operateDenied === null && (
          <>
            {" "}
            · <a href="/metrics?format=prometheus">Prometheus metrics</a>
          </>
        )}
        {data.retention.data !== null && (
          <>
            {" "}
            · <RetentionSummary retention={data.retention.data.data} now={now} />
          </>
        )}
      </footer>
    </div>
  );
}
