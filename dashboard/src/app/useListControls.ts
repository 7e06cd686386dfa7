// What the Jobs view's controls do: another tab (the filter kept), the tenant filter, the
// search (the address replaced, not a history step per pause in typing), and which rows can be
// picked for the list's bulk action.

import { useCallback, useMemo } from "react";

import type { Access } from "../access";
import type { NavigateOptions, Route } from "../routing";
import { type BulkKind, bulkKindOf } from "../services/bulk";
import { canCancel, type Job, type JobListView } from "../services/jobs";
import { type ListFilter, withoutField } from "../services/search";
import type { Bulk } from "./useBulk";

/** Rows a bulk action would act on: failed ones not retried yet (Retry); pending ones and
 *  running ones not already asked to stop (Cancel). */
export function selectableFor(kind: BulkKind): (job: Job) => boolean {
  if (kind === "retry") return (job) => job.status === "failed" && job.retriedBy === null;
  return (job) => canCancel(job.status) && job.cancelRequestedAt === null;
}

export interface ListControlsOptions {
  route: Route;
  navigate: (route: Route, options?: NavigateOptions) => void;
  bulk: Pick<Bulk, "selected" | "select">;
  access: Pick<Access, "writeDenied">;
}

export function useListControls({ route, navigate, bulk, access }: ListControlsOptions) {
  const listRoute = route.name === "list" ? route : null;
  const filter = listRoute?.filter;
  const view = listRoute?.view ?? null;

  const goToList = useCallback(
    (next: JobListView) => navigate({ name: "list", view: next, filter: filter ?? {} }),
    [filter, navigate],
  );
  const filterTenant = useCallback(
    (tenant: string | null) => {
      if (view === null) return;
      const rest = withoutField(filter ?? {}, "tenant");
      navigate({ name: "list", view, filter: tenant === null ? rest : { ...rest, tenant } });
    },
    [filter, navigate, view],
  );
  const changeFilter = useCallback(
    (next: ListFilter) => {
      if (view === null) return;
      const rest = withoutField(next, "tenant");
      const tenant = filter?.tenant;
      navigate({ name: "list", view, filter: tenant === undefined ? rest : { ...rest, tenant } }, { replace: true });
    },
    [filter, navigate, view],
  );

  const kind = view === null ? null : bulkKindOf(view);
  const { selected, select } = bulk;
  const selection = useMemo(
    () => (kind === null || access.writeDenied !== null ? null : { selected, selectable: selectableFor(kind), onSelect: select }),
    [kind, access.writeDenied, selected, select],
  );
  return { goToList, filterTenant, changeFilter, kind, selection };
}
