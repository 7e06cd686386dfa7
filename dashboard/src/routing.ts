// Hash routes, so any path the API serves stays the API's: `#/pending`, `#/dlq`, `#/all`,
// `#/jobs/<id>`, `#/queues`, `#/schedules`, `#/charts?minutes=360`. A list's filter is in the
// address, with the API's own parameter names (`#/failed?task=send_email&error=timeout`), so
// a copied address reopens the same filtered list, and tabs and the way back from a job keep
// it. Where in a list the user paged to is not in the address: keyset pages of a live list are
// a moment's view (see useListPaging).

import { useCallback, useEffect, useState } from "react";

import { JOB_LIST_VIEWS, type JobListView } from "./services/jobs";
import { type ListFilter, readFilter, writeFilter } from "./services/search";

/** The chart windows offered, in minutes (the API takes 1 to 1440). */
export const CHART_MINUTES = [60, 360, 1440] as const;
export type ChartMinutes = (typeof CHART_MINUTES)[number];

export type Route =
  | { name: "list"; view: JobListView; filter: ListFilter }
  | { name: "job"; id: string }
  | { name: "queues" }
  | { name: "schedules" }
  | { name: "charts"; minutes: ChartMinutes };
export type ListRoute = Extract<Route, { name: "list" }>;

export const HOME: ListRoute = { name: "list", view: "pending", filter: {} };

function chartMinutes(value: string | null): ChartMinutes {
  const minutes = Number(value);
  return (CHART_MINUTES as readonly number[]).includes(minutes) ? (minutes as ChartMinutes) : 60;
}

export function parseRoute(hash: string): Route {
  const [path = "", search = ""] = hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter((part) => part !== "");
  const params = new URLSearchParams(search);
  if (parts[0] === "jobs" && parts[1] !== undefined) {
    return { name: "job", id: decodeURIComponent(parts[1]) };
  }
  if (parts[0] === "queues") return { name: "queues" };
  if (parts[0] === "schedules") return { name: "schedules" };
  if (parts[0] === "charts") return { name: "charts", minutes: chartMinutes(params.get("minutes")) };
  const view = (JOB_LIST_VIEWS as readonly string[]).includes(parts[0] ?? "") ? (parts[0] as JobListView) : "pending";
  return { name: "list", view, filter: readFilter(params) };
}

export function routeHref(route: Route): string {
  switch (route.name) {
    case "job":
      return `#/jobs/${encodeURIComponent(route.id)}`;
    case "queues":
      return "#/queues";
    case "schedules":
      return "#/schedules";
    case "charts":
      return route.minutes === 60 ? "#/charts" : `#/charts?minutes=${route.minutes}`;
    case "list": {
      const search = writeFilter(route.filter, new URLSearchParams()).toString();
      return `#/${route.view}${search === "" ? "" : `?${search}`}`;
    }
  }
}

interface Place {
  route: Route;
  /** The last list shown, where a job's page links back to (HOME before any). */
  lastList: ListRoute;
}

function arrive(route: Route, lastList: ListRoute): Place {
  return { route, lastList: route.name === "list" ? route : lastList };
}

export interface NavigateOptions {
  /** Replace the address rather than add a step to the history: a filter being typed. */
  replace?: boolean;
}

/** The route in the address, a way to go elsewhere, and the last list route seen. */
export function useRoute(): [Route, (route: Route, options?: NavigateOptions) => void, ListRoute] {
  const [place, setPlace] = useState(() => arrive(parseRoute(window.location.hash), HOME));
  useEffect(() => {
    const changed = () => setPlace((previous) => arrive(parseRoute(window.location.hash), previous.lastList));
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  const navigate = useCallback((next: Route, options: NavigateOptions = {}) => {
    const href = routeHref(next);
    if (options.replace === true && typeof window.history.replaceState === "function") {
      // No hashchange event follows a replaced address: the route is set here.
      window.history.replaceState(window.history.state, "", href);
      setPlace((previous) => arrive(parseRoute(href), previous.lastList));
      return;
    }
    window.location.hash = href;
  }, []);
  return [place.route, navigate, place.lastList];
}
