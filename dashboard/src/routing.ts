// Hash routes, so any path the API serves stays the API's: `#/pending?page=2`, `#/dlq`,
// `#/jobs/<id>`, `#/queues`, `#/schedules`. Pages are 1-based in the address and 0-based in code.
// A list may name a tenant (`#/done?tenant=acme`): an admin's filter, kept in the address so
// tabs, pages and the way back from a job keep it.

import { useCallback, useEffect, useState } from "react";

import { JOB_LIST_VIEWS, type JobListView } from "./services/jobs";

export type Route =
  | { name: "list"; view: JobListView; page: number; tenant?: string }
  | { name: "job"; id: string }
  | { name: "queues" }
  | { name: "schedules" };
export type ListRoute = Extract<Route, { name: "list" }>;

export const HOME: ListRoute = { name: "list", view: "pending", page: 0 };

export function parseRoute(hash: string): Route {
  const [path = "", search = ""] = hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter((part) => part !== "");
  if (parts[0] === "jobs" && parts[1] !== undefined) {
    return { name: "job", id: decodeURIComponent(parts[1]) };
  }
  if (parts[0] === "queues") return { name: "queues" };
  if (parts[0] === "schedules") return { name: "schedules" };
  const view = (JOB_LIST_VIEWS as readonly string[]).includes(parts[0] ?? "") ? (parts[0] as JobListView) : "pending";
  const params = new URLSearchParams(search);
  const page = Number.parseInt(params.get("page") ?? "1", 10);
  const route: ListRoute = { name: "list", view, page: Number.isFinite(page) && page > 1 ? page - 1 : 0 };
  const tenant = params.get("tenant")?.trim() ?? "";
  if (tenant !== "") route.tenant = tenant;
  return route;
}

export function routeHref(route: Route): string {
  if (route.name === "job") return `#/jobs/${encodeURIComponent(route.id)}`;
  if (route.name === "queues") return "#/queues";
  if (route.name === "schedules") return "#/schedules";
  const params = new URLSearchParams();
  if (route.page > 0) params.set("page", String(route.page + 1));
  if (route.tenant !== undefined) params.set("tenant", route.tenant);
  const search = params.toString();
  return `#/${route.view}${search === "" ? "" : `?${search}`}`;
}

interface Place {
  route: Route;
  /** The last list shown, where a job's page links back to (HOME before any). */
  lastList: ListRoute;
}

function arrive(route: Route, lastList: ListRoute): Place {
  return { route, lastList: route.name === "list" ? route : lastList };
}

/** The route in the address, a way to go elsewhere, and the last list route seen. */
export function useRoute(): [Route, (route: Route) => void, ListRoute] {
  const [place, setPlace] = useState(() => arrive(parseRoute(window.location.hash), HOME));
  useEffect(() => {
    const changed = () => setPlace((previous) => arrive(parseRoute(window.location.hash), previous.lastList));
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  const navigate = useCallback((next: Route) => {
    window.location.hash = routeHref(next);
  }, []);
  return [place.route, navigate, place.lastList];
}
