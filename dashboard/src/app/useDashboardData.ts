// The server data the page shows: the counts, the throughput, the workers, the list on screen,
// the job on screen, the queues (on the Queues view), the schedules (on the Schedules view),
// what is kept (retention) and who the API key is (whoami), each a Resource (data/) fetched through services/. Live events and actions change it only through the functions returned here, which
// are stable and act on the resources on screen when they are called: an answer that arrives
// after the user moved to another list patches that list, not the one of the render that sent
// the request.

import { useCallback, useEffect, useLayoutEffect, useRef } from "react";

import { THROUGHPUT_MINUTES } from "../components/ThroughputChart";
import type { Resource, ResourceState } from "../data/resource";
import { useResource } from "../data/useResource";
import { useInterval } from "../hooks";
import {
  applyCancelAnswer,
  applyToJob,
  applyToMetrics,
  applyToPage,
  applyToThroughput,
  type Applied,
  type PagePlace,
  type ReceivedEvent,
} from "../live/apply";
import type { Route } from "../routing";
import type { Credentials } from "../services/api";
import {
  getJob,
  getMetrics,
  getThroughput,
  getWorkers,
  type Job,
  type JobListView,
  type JobPage,
  type Metrics,
  queryKeys,
  type ThroughputBucket,
  type WorkerInfo,
} from "../services/jobs";
import { listQueues, type Queue, withQueue } from "../services/queues";
import { getRetention, type Retention } from "../services/retention";
import { isNarrowed, type ListFilter, listFilterKey, listJobs, NO_FILTER, withoutField } from "../services/search";
import { listSchedules, type Schedule, withSchedule } from "../services/schedules";
import { getWhoAmI, type WhoAmI } from "../services/whoami";
import { type ListPaging, useListPaging } from "./useListPaging";

// Workers and throughput change without events (a worker's heartbeat, a minute passing), so
// they are polled whatever the live feed does.
const WORKERS_POLL_MS = 10_000;
const THROUGHPUT_POLL_MS = 60_000;
// A queue's figures move with job events, which refetch them, but pausing sends none and the
// oldest pending job ages by itself: polled while the Queues view is shown.
export const QUEUES_POLL_MS = 3000;
// A schedule's job comes with an event, which refetches them, but enabling one sends none and a
// tick that skips (overlap) sends none either: polled while the Schedules view is shown.
export const SCHEDULES_POLL_MS = 5000;
// What is kept changes only with the server's configuration; the last prune moves hourly.
export const RETENTION_POLL_MS = 60_000;
// While events flow, every batch asks for the counts and the queues again (events do not say
// which count or queue they left): at most this often.
const METRICS_MIN_INTERVAL_MS = 1000;
const QUEUES_MIN_INTERVAL_MS = 1000;

export interface DashboardData {
  metrics: ResourceState<Metrics>;
  throughput: ResourceState<ThroughputBucket[]>;
  workers: ResourceState<WorkerInfo[]>;
  /** The list on screen; idle on a job's page. */
  list: ResourceState<JobPage>;
  /** The job on screen; idle on a list. */
  detail: ResourceState<Job>;
  /** Every queue's figures; idle except on the Queues view. */
  queues: ResourceState<Queue[]>;
  /** Every schedule; idle except on the Schedules view. */
  schedules: ResourceState<Schedule[]>;
  /** What the API keeps of finished jobs. */
  retention: ResourceState<Retention>;
  /** Who the API key is: whose data the page shows, and what it may do. */
  whoami: ResourceState<WhoAmI>;
  /** The tenant the list on screen is limited to (null: every tenant the key sees): the
   *  route's filter for an admin, nothing for a tenant's key (the API limits it to its own). */
  listTenant: string | null;
  /** The filter the list on screen is fetched with (the route's, less a tenant the key may not
   *  name); empty on other views. */
  listFilter: ListFilter;
  /** Which list is on screen, its view and filter (null: none, e.g. a job's page): equal for
   *  one list whatever its page. Another list starts at page 1, with nothing picked. */
  listKey: string | null;
  /** Where in the list the page shown is (keyset: a stack of cursors). */
  paging: ListPaging;
  /** Patch everything shown with a batch of live events (refetching what they make stale). */
  applyEvents: (events: readonly ReceivedEvent[]) => void;
  /** Refetch everything, throttled (after a resync). */
  refetchAll: () => void;
  /** Refetch what the page shows, throttled (polling while the live feed is down). */
  refetchVisible: () => void;
  /** Refetch the list or the job now: the user asked ("Try again"). */
  reloadList: () => void;
  reloadDetail: () => void;
  reloadQueues: () => void;
  reloadSchedules: () => void;
  /** Show at once that job `id` was retried as `retriedBy`, in the list and the detail. */
  markRetried: (id: string, retriedBy: string) => void;
  /** Show at once what a cancel answered (the job cancelled, or asked to stop), in the list and
   *  the detail. */
  showCancelAnswer: (answer: Job) => void;
  /** Refetch the list and the job, throttled (an action on them failed: see what is true). */
  refetchJobs: () => void;
  /** Show at once what a pause or resume answered, then refetch the queues (throttled): a
   *  fetch that started before the answer may have brought the queue as it was. */
  showQueue: (answer: Queue) => void;
  /** Refetch the queues, throttled (a pause or resume failed: see what is true). */
  refetchQueues: () => void;
  /** Show at once what an enable or disable answered, then refetch the schedules (throttled). */
  showSchedule: (answer: Schedule) => void;
  /** Refetch the schedules, throttled (an enable or disable failed: see what is true). */
  refetchSchedules: () => void;
  /** Refetch the list on screen, throttled (a redrive changed it). */
  refetchList: () => void;
  /** Ask again who the key is, throttled (an action got 403: its role may have changed). */
  refetchWhoAmI: () => void;
}

interface OnScreen {
  metrics: Resource<Metrics> | null;
  throughput: Resource<ThroughputBucket[]> | null;
  workers: Resource<WorkerInfo[]> | null;
  list: Resource<JobPage> | null;
  /** The view `list` is of, which the events are applied for. */
  listView: JobListView | null;
  detail: Resource<Job> | null;
  queues: Resource<Queue[]> | null;
  schedules: Resource<Schedule[]> | null;
  retention: Resource<Retention> | null;
  whoami: Resource<WhoAmI> | null;
  /** The tenant `list` is limited to, whose events alone may change it. */
  listTenant: string | null;
  /** Where `list` sits, for the events that may enter it. */
  listPlace: PagePlace;
}

const NOTHING: OnScreen = {
  metrics: null,
  throughput: null,
  workers: null,
  list: null,
  listView: null,
  detail: null,
  queues: null,
  schedules: null,
  retention: null,
  whoami: null,
  listTenant: null,
  listPlace: { first: true, narrowed: false },
};

function markRetriedInPage(page: JobPage, id: string, retriedBy: string): JobPage {
  return { ...page, jobs: page.jobs.map((job) => (job.id === id ? { ...job, retriedBy } : job)) };
}

/** A row that now has another status left its list: the refetch puts rows where they belong. */
function cancelAnswerInPage(page: JobPage, answer: Job): Applied<JobPage> {
  const current = page.jobs.find((job) => job.id === answer.id);
  if (current === undefined) return { data: page, stale: false };
  const next = applyCancelAnswer(current, answer);
  if (next === current) return { data: page, stale: false };
  return {
    data: { ...page, jobs: page.jobs.map((job) => (job === current ? next : job)) },
    stale: next.status !== current.status,
  };
}


/** The filter a list is fetched with: a tenant's key names no tenant (the API limits it to its
 *  own and would refuse another), so a tenant in the address (an admin's link) is dropped. */
function effectiveFilter(filter: ListFilter, boundTenant: string | null): ListFilter {
  if (boundTenant === null || filter.tenant === undefined) return filter;
  return withoutField(filter, "tenant");
}

export interface DashboardDataOptions {
  route: Route;
  credentials: Credentials;
  /** The live feed's seq, stamped on each fetch. */
  currentSeq: () => number;
}

export function useDashboardData({ route, credentials, currentSeq }: DashboardDataOptions): DashboardData {
  // First, since the list's filter depends on it. The key alone decides the answer.
  const [whoamiState, whoami] = useResource(
    queryKeys.whoami(),
    (signal) => getWhoAmI(credentials, signal),
    currentSeq,
    2000,
  );
  const [metricsState, metrics] = useResource(
    queryKeys.metrics(),
    (signal) => getMetrics(credentials, signal),
    currentSeq,
    METRICS_MIN_INTERVAL_MS,
  );
  const [throughputState, throughput] = useResource(
    queryKeys.throughput(THROUGHPUT_MINUTES),
    (signal) => getThroughput(credentials, THROUGHPUT_MINUTES, signal),
    currentSeq,
    5000,
  );
  const [workersState, workers] = useResource(
    queryKeys.workers(),
    (signal) => getWorkers(credentials, signal),
    currentSeq,
    2000,
  );
  const listRoute = route.name === "list" ? route : null;
  // A tenant's key sees its own tenant only: a filter in the address (from an admin's link) is
  // not sent, as the API would refuse another tenant.
  const boundTenant = whoamiState.data?.data.tenant ?? null;
  const listFilter = listRoute ? effectiveFilter(listRoute.filter, boundTenant) : NO_FILTER;
  const listTenant = listFilter.tenant ?? null;
  const filterKey = listFilterKey(listFilter);
  const listView = listRoute?.view ?? null;
  const listKey = listView === null ? null : `${listView}?${filterKey}`;
  const paging = useListPaging(listKey);
  const cursor = paging.cursor;
  const [listState, list] = useResource(
    listView !== null ? queryKeys.jobList(listView, filterKey, cursor) : null,
    (signal) => listJobs(credentials, listView ?? "pending", { filter: listFilter, cursor }, signal),
    currentSeq,
    1000,
  );
  const narrowed = isNarrowed(listFilter);
  const jobId = route.name === "job" ? route.id : null;
  const [detailState, detail] = useResource(
    jobId ? queryKeys.job(jobId) : null,
    (signal) => getJob(credentials, jobId ?? "", signal),
    currentSeq,
    1000,
  );
  const queuesShown = route.name === "queues";
  const [queuesState, queues] = useResource(
    queuesShown ? queryKeys.queues() : null,
    (signal) => listQueues(credentials, signal),
    currentSeq,
    QUEUES_MIN_INTERVAL_MS,
  );
  const schedulesShown = route.name === "schedules";
  const [schedulesState, schedules] = useResource(
    schedulesShown ? queryKeys.schedules() : null,
    (signal) => listSchedules(credentials, signal),
    currentSeq,
    1000,
  );
  const [retentionState, retention] = useResource(
    queryKeys.retention(),
    (signal) => getRetention(credentials, signal),
    currentSeq,
    5000,
  );

  // What the functions below act on: the resources of the last render React committed, set
  // before any effect of that render runs.
  const onScreen = useRef<OnScreen>(NOTHING);
  useLayoutEffect(() => {
    onScreen.current = {
      metrics,
      throughput,
      workers,
      list,
      listView,
      detail,
      queues,
      schedules,
      retention,
      whoami,
      listTenant,
      listPlace: { first: cursor === null, narrowed },
    };
  }, [metrics, throughput, workers, list, listView, detail, queues, schedules, retention, whoami, listTenant, cursor, narrowed]);

  const applyEvents = useCallback((events: readonly ReceivedEvent[]) => {
    const shown = onScreen.current;
    shown.metrics?.apply((data, asOf) => applyToMetrics(data, events, asOf));
    shown.metrics?.refetch(); // reconcile the counts moved by events, at most once a second
    shown.throughput?.apply((data, asOf) => applyToThroughput(data, events, asOf));
    const view = shown.listView;
    const tenant = shown.listTenant;
    // Another tenant's job cannot enter or leave a list filtered to one tenant.
    const forList = tenant === null ? events : events.filter((event) => event.tenant === tenant);
    const place = shown.listPlace;
    if (view !== null) shown.list?.apply((data, asOf) => applyToPage(data, view, forList, asOf, place));
    shown.detail?.apply((data, asOf) => applyToJob(data, events, asOf));
    // Events do not say which queue their job is in: any of them may move a queue's figures.
    shown.queues?.refetch();
    // A schedule that fires creates a job: its last run and next run moved.
    if (events.some((event) => event.type === "job_created")) shown.schedules?.refetch();
  }, []);

  const refetchAll = useCallback(() => {
    const { metrics, throughput, workers, list, detail, queues, schedules, retention } = onScreen.current;
    for (const resource of [metrics, throughput, workers, list, detail, queues, schedules, retention]) {
      resource?.refetch();
    }
  }, []);

  const refetchVisible = useCallback(() => {
    const { metrics, list, detail, queues, schedules } = onScreen.current;
    for (const resource of [metrics, list, detail, queues, schedules]) resource?.refetch();
  }, []);

  const reloadList = useCallback(() => onScreen.current.list?.refetchNow(), []);
  const reloadDetail = useCallback(() => onScreen.current.detail?.refetchNow(), []);
  const reloadQueues = useCallback(() => onScreen.current.queues?.refetchNow(), []);
  const reloadSchedules = useCallback(() => onScreen.current.schedules?.refetchNow(), []);

  const markRetried = useCallback((id: string, retriedBy: string) => {
    const { list, detail } = onScreen.current;
    list?.apply((page) => ({ data: markRetriedInPage(page, id, retriedBy), stale: false }));
    // The open job: its timeline gains the retry event, which only a refetch brings.
    detail?.apply((open) => ({
      data: open.id === id ? { ...open, retriedBy } : open,
      stale: open.id === id,
    }));
  }, []);

  const showCancelAnswer = useCallback((answer: Job) => {
    const { list, detail } = onScreen.current;
    list?.apply((page) => cancelAnswerInPage(page, answer));
    // The open job's timeline gains the cancel event, which only a refetch (or the event) brings.
    detail?.apply((open) => {
      const next = applyCancelAnswer(open, answer);
      return { data: next, stale: next.status !== open.status };
    });
  }, []);

  const refetchJobs = useCallback(() => {
    const { list, detail } = onScreen.current;
    list?.refetch();
    detail?.refetch();
  }, []);

  const showQueue = useCallback((answer: Queue) => {
    onScreen.current.queues?.apply((known) => ({ data: withQueue(known, answer), stale: true }));
  }, []);

  const refetchQueues = useCallback(() => onScreen.current.queues?.refetch(), []);

  const showSchedule = useCallback((answer: Schedule) => {
    onScreen.current.schedules?.apply((known) => ({ data: withSchedule(known, answer), stale: true }));
  }, []);

  const refetchSchedules = useCallback(() => onScreen.current.schedules?.refetch(), []);

  const refetchList = useCallback(() => {
    const { metrics, list } = onScreen.current;
    list?.refetch();
    metrics?.refetch();
  }, []);

  const refetchWhoAmI = useCallback(() => onScreen.current.whoami?.refetch(), []);

  useInterval(() => workers?.refetch(), WORKERS_POLL_MS);
  useInterval(() => throughput?.refetch(), THROUGHPUT_POLL_MS);
  useInterval(() => queues?.refetch(), queuesShown ? QUEUES_POLL_MS : null);
  useInterval(() => schedules?.refetch(), schedulesShown ? SCHEDULES_POLL_MS : null);
  useInterval(() => retention?.refetch(), RETENTION_POLL_MS);

  // A new API key: everything is fetched again with it, at once. The key the data was fetched
  // with is remembered rather than "skip the first run", so StrictMode's second run is a no-op.
  const fetchedWithKey = useRef(credentials.apiKey);
  useEffect(() => {
    if (fetchedWithKey.current === credentials.apiKey) return;
    fetchedWithKey.current = credentials.apiKey;
    const { metrics, throughput, workers, list, detail, queues, schedules, retention, whoami } = onScreen.current;
    for (const resource of [whoami, metrics, throughput, workers, list, detail, queues, schedules, retention]) {
      resource?.refetchNow();
    }
  }, [credentials.apiKey]);

  return {
    metrics: metricsState,
    throughput: throughputState,
    workers: workersState,
    list: listState,
    detail: detailState,
    queues: queuesState,
    schedules: schedulesState,
    retention: retentionState,
    whoami: whoamiState,
    listTenant,
    listFilter,
    listKey,
    paging,
    applyEvents,
    refetchAll,
    refetchVisible,
    reloadList,
    reloadDetail,
    reloadQueues,
    reloadSchedules,
    markRetried,
    showCancelAnswer,
    refetchJobs,
    showQueue,
    refetchQueues,
    showSchedule,
    refetchSchedules,
    refetchList,
    refetchWhoAmI,
  };
}
