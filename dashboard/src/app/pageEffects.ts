// What the page does to the document around it, beyond rendering.

import { useEffect, useRef } from "react";

import type { Route } from "../routing";
import type { Metrics } from "../services/jobs";

/** The tab's title carries the counts, for operators who keep it in the background. */
export function usePageTitle(counts: Metrics | null): void {
  useEffect(() => {
    document.title = counts
      ? `conveyor · ${counts.pending} pending · ${counts.running} running · ${counts.dlqCount} in DLQ`
      : "conveyor";
  }, [counts]);
}

/** Coming back from a job's page, put keyboard focus on the lists rather than lose it (the
 *  element that had it, on the job's page, is gone). */
export function useFocusListsOnReturn(page: Route["name"]): void {
  const previous = useRef(page);
  useEffect(() => {
    if (previous.current === "job" && page === "list") document.getElementById("jobs-title")?.focus();
    previous.current = page;
  }, [page]);
}
