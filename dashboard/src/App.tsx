// The page: the hooks that hold its state, by concern, and the layout that shows it.
//   useLiveEvents     the /ws feed (live/): its state, its seq, subscribe
//   useDashboardData  the server data shown (data/ resources over services/)
//   useJobActions     submit, retry and cancel, with their pending and error state
//   useLiveUpdates    the feed's events applied to both, and polling while it is down

import { useDashboardData } from "./app/useDashboardData";
import { useJobActions } from "./app/useJobActions";
import { useLiveUpdates } from "./app/useLiveUpdates";
import { useFocusListsOnReturn, usePageTitle } from "./app/pageEffects";
import { useSettingsDrawer } from "./app/useSettingsDrawer";
import { LiveIndicator } from "./components/LiveIndicator";
import { JobDetail } from "./components/JobDetail";
import { JobsPanel, VIEW_LABELS } from "./components/JobsPanel";
import { MetricsCards } from "./components/MetricsCards";
import { findProblem, ProblemBanner } from "./components/ProblemBanner";
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
  const actions = useJobActions({ credentials, data });
  useLiveUpdates({ live, data, actions });

  const problem = findProblem({
    errors: [data.metrics.error, data.list.error, data.detail.error, actions.authError],
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
          {actions.flash && (
            <div className={`flash flash--${actions.flash.tone}`} key={actions.flash.id}>
              {actions.flash.text}{" "}
              {actions.flash.link && <a href={actions.flash.link.href}>{actions.flash.link.label}</a>}
              <button type="button" className="flash__close" aria-label="Dismiss" onClick={actions.dismissFlash}>
                ×
              </button>
            </div>
          )}
        </div>
        <MetricsCards metrics={metrics} loading={data.metrics.loading} />

        {route.name === "list" ? (
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
        ) : (
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
        )}
      </main>
      <footer className="footer">
        conveyor{config.version ? ` ${config.version}` : ""} · <a href="/docs">API reference</a> ·{" "}
        <a href="/metrics?format=prometheus">Prometheus metrics</a>
      </footer>
    </div>
  );
}
