// Searching the lists (`GET /jobs`, `GET /dlq`): the filter's fields, the filter in a page
// address and back (a copied address reopens the same list), and one page of a list by keyset
// (`cursor` → `next_cursor`, newest first). The status is the list's tab (a view), not a field.

import { formatCount } from "../format";
import { apiFetch, type Credentials } from "./api";
import { type JobListView, type JobPage, type JobListWire, PAGE_SIZE, pageFromWire, viewStatus } from "./jobs";

/** The filter's fields, named as the API's query parameters (and the page address's). */
export const FILTER_FIELDS = [
  "tenant",
  "queue",
  "task",
  "trace_id",
  "id_prefix",
  "error",
  "payload",
  "created_after",
  "created_before",
  "finished_after",
  "finished_before",
] as const;
export type FilterField = (typeof FILTER_FIELDS)[number];

/** The fields that are moments: RFC 3339 with an offset, in the address as on the wire. */
export const TIME_FIELDS = ["created_after", "created_before", "finished_after", "finished_before"] as const;
export type TimeField = (typeof TIME_FIELDS)[number];

/** A filter: each field given must match (AND); a field left out matches anything. */
export type ListFilter = Partial<Record<FilterField, string>>;

export const NO_FILTER: ListFilter = {};

export function isTimeField(field: FilterField): field is TimeField {
  return (TIME_FIELDS as readonly string[]).includes(field);
}

/** The filter without empty fields, values trimmed (an empty field is "any", not ""). */
export function cleanListFilter(filter: ListFilter): ListFilter {
  const clean: ListFilter = {};
  for (const field of FILTER_FIELDS) {
    const value = filter[field]?.trim() ?? "";
    if (value !== "") clean[field] = value;
  }
  return clean;
}

/** Equal for filters that match the same jobs (fields in one order). */
export function listFilterKey(filter: ListFilter): string {
  const clean = cleanListFilter(filter);
  return FILTER_FIELDS.filter((field) => clean[field] !== undefined)
    .map((field) => `${field}=${clean[field] ?? ""}`)
    .join("&");
}

/** A filter beyond the tenant: live events cannot tell whether a job matches it (they carry
 *  the tenant, not the queue, the payload, …), so a list under it is not refetched per event. */
export function isNarrowed(filter: ListFilter): boolean {
  const clean = cleanListFilter(filter);
  return FILTER_FIELDS.some((field) => field !== "tenant" && clean[field] !== undefined);
}

/** The filter's fields in the address's query (or an API query), in FILTER_FIELDS order. */
export function writeFilter(filter: ListFilter, params: URLSearchParams): URLSearchParams {
  const clean = cleanListFilter(filter);
  for (const field of FILTER_FIELDS) {
    const value = clean[field];
    if (value !== undefined) params.set(field, value);
  }
  return params;
}

/** The filter a query names; fields it does not know are ignored, and so are moments that are
 *  not RFC 3339 (a hand-edited address), which the API would refuse. */
export function readFilter(params: URLSearchParams): ListFilter {
  const filter: ListFilter = {};
  for (const field of FILTER_FIELDS) {
    const value = params.get(field)?.trim() ?? "";
    if (value === "") continue;
    if (isTimeField(field) && !isRfc3339(value)) continue;
    filter[field] = value;
  }
  return filter;
}

export function isRfc3339(value: string): boolean {
  // Seconds included, as the API asks.
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) && !Number.isNaN(Date.parse(value));
}

/** Why a field's value would be refused by the API (null: it would not). The bounds are the
 *  contract's: an id prefix is 1–36 hex digits and dashes; error and payload text 1–200. */
export function fieldProblem(field: FilterField, value: string): string | null {
  const text = value.trim();
  if (text === "") return null;
  switch (field) {
    case "id_prefix":
      return /^[0-9a-fA-F-]{1,36}$/.test(text) ? null : "A job id prefix is hex digits (and dashes), at most 36.";
    case "error":
    case "payload":
      return text.length <= 200 ? null : "At most 200 characters.";
    default:
      return null;
  }
}

// ---- one page -----------------------------------------------------------------------------

/** Where a page starts: the first (newest) page has no cursor; the next older one starts at
 *  the previous page's `next_cursor`. */
export interface PageRequest {
  filter: ListFilter;
  cursor: string | null;
}

/** The request for one page of a list. The DLQ unfiltered is `GET /dlq`; filtered, it is the
 *  failed jobs filtered (`GET /jobs?status=failed&…`, the same rows). "All" sends no status. */
export function listPath(view: JobListView, { filter, cursor }: PageRequest, limit = PAGE_SIZE): string {
  const query = new URLSearchParams({ limit: String(limit) });
  if (cursor !== null) query.set("cursor", cursor);
  const clean = cleanListFilter(filter);
  const filtered = Object.keys(clean).length > 0;
  const status = viewStatus(view);
  if (status !== null && (view !== "dlq" || filtered)) query.set("status", status);
  writeFilter(clean, query);
  return view === "dlq" && !filtered ? `/dlq?${query}` : `/jobs?${query}`;
}

export async function listJobs(
  credentials: Credentials,
  view: JobListView,
  request: PageRequest,
  signal?: AbortSignal,
): Promise<JobPage> {
  const wire = await apiFetch<JobListWire>(listPath(view, request), { credentials, ...(signal && { signal }) });
  return pageFromWire(wire);
}

/** "134", or "10,000+" when the API stopped counting (at least `total` match). */
export function formatTotal(total: number, exact: boolean): string {
  return exact ? formatCount(total) : `${formatCount(total)}+`;
}

function pad(value: number): string {
  return String(value).padStart(2, "0");
}

/** An RFC 3339 moment as a `datetime-local` input's value on this browser's clock
 *  (`2026-12-01T09:30:00`); "" when it is not one. rfc3339FromLocal (jobs.ts) is the way back. */
export function localFromRfc3339(value: string): string {
  const time = Date.parse(value);
  if (!isRfc3339(value) || Number.isNaN(time)) return "";
  const date = new Date(time);
  return (
    `${String(date.getFullYear()).padStart(4, "0")}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** The filter without one field. */
export function withoutField(filter: ListFilter, field: FilterField): ListFilter {
  const next = { ...filter };
  delete next[field];
  return next;
}
