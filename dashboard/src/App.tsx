// The page: the hooks that hold its state, by concern, and the layout that shows it.
//   useLiveEvents     the /ws feed (live/): its state, its seq, subscribe
//   useDashboardData  the server data shown (data/ resources over services/)
//   useJobActions     submit, retry and cancel, with their pending and error state
//   useQueueActions   pause and resume a queue, likewise
//   useFlash          the one message saying how the last action went, shared by both
//   useLiveUpdates    the feed's events applied to the data and the jobs submitted here, and
//                     polling while it is down

import type { ReactNode } from "react";

import { useDashboardData } from "./app/useDashboardData";
import { useFlash } from "./app/useFlash";
import { useJobActions } from "./app/useJobActions";
import { useLiveUpdates } from "./app/useLiveUpdates";
import { useFocusListsOnReturn, usePageTitle } from "./app/pageEffects";
import { useQueueActions } from "./app/useQueueActions";
import { useSettingsDrawer } from "./app/useSettingsDrawer";
import { LiveIndicator } from "./components/LiveIndicator";
import { JobDetail } from "./components/JobDetail";
import { JobsPanel, VIEW_LABELS } from "./components/JobsPanel";
import { MetricsCards } from "./components/MetricsCards";
import { findProblem, ProblemBanner } from "./components/ProblemBanner";
import { QueuesPanel } from "./components/QueuesPanel";
import { SettingsPanel } from "./components/SettingsPanel";
import { SubmitPanel } from "./components/SubmitPanel";
import { THROUGHPUT_MINUTES, ThroughputChart } from "./components/ThroughputChart";
import { WorkersPanel } from "./components/WorkersPanel";
import type { DashboardConfig } from "./config";
import { useNow } from "./hooks";
import type { SocketLike } from "./live/connection";
import { useLiveEvents } from "./live/useLiveEvents";
import { HOME, routeHref, useRoute } from "./routing";
import type { JobListView } from "./services/jobs";
import { useCredentials } from "./settings";

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
  const [flash, showFlash, dismissFlash] = useFlash();
  const actions = useJobActions({ credentials, data, showFlash });
  const queueActions = useQueueActions({ credentials, data, showFlash });
  useLiveUpdates({ live, data, actions });

  const problem = findProblem({
    errors: [
      data.metrics.error,
      data.list.error,
      data.detail.error,
      data.queues.error,
      actions.authError,
      queueActions.authError,
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

  const goToList = (view: JobListView, page: number) => navigate({ name: "list", view, page });

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
            page={route.page}
            list={data.list}
            metrics={metrics}
            onNavigate={goToList}
            onReload={data.reloadList}
            actions={actions.rowActions}
          />
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
          onReload={data.reloadQueues}
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
            <a
              className="views__link"
              href={routeHref(lastList)}
              aria-current={route.name === "queues" ? undefined : "page"}
            >
              Jobs
            </a>
            <a
              className="views__link"
              href={routeHref({ name: "queues" })}
              aria-current={route.name === "queues" ? "page" : undefined}
            >
              Queues
            </a>
          </nav>
          <LiveIndicator state={live.state} onReconnect={live.reconnectNow} />
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
        conveyor{config.version ? ` ${config.version}` : ""} · <a href="/docs">API reference</a> ·{" "}
        <a href="/metrics?format=prometheus">Prometheus metrics</a>
      </footer>
    </div>
  );
}
