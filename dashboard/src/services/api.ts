// The one way the dashboard talks HTTP to the API. Every failure becomes an ApiError with the
// API's stable error shape (`{"error": {"code", "message", "trace_id", "retry_after"}}`), so
// components switch on `code` rather than parse messages. Status 0 means no answer at all.

export interface Credentials {
  /** Sent as X-API-Key when not empty. */
  apiKey: string;
  /** Sent as X-Tenant-Id when not empty; the API defaults to `default`. */
  tenant: string;
}

export const NO_CREDENTIALS: Credentials = { apiKey: "", tenant: "" };

export class ApiError extends Error {
  override readonly name = "ApiError";

  constructor(
    /** HTTP status, or 0 when the request got no response (API down, network, timeout). */
    readonly status: number,
    /** The API's error code (`unauthorized`, `rate_limited`, …) or `network` / `http_<status>`. */
    readonly code: string,
    message: string,
    readonly traceId: string | null = null,
    /** Seconds to wait before trying again (429, 503), from the body or Retry-After. */
    readonly retryAfterSec: number | null = null,
  ) {
    super(message);
  }

  get isUnauthorized(): boolean {
    return this.status === 401;
  }

  /** The key may not do this (a read-only key's write, a tenant's key on an admin route). */
  get isForbidden(): boolean {
    return this.status === 403;
  }

  get isRateLimited(): boolean {
    return this.status === 429;
  }

  /** The API could not be reached or cannot serve right now; trying again later may work. */
  get isUnavailable(): boolean {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PATCH" | "DELETE";
  body?: unknown;
  credentials?: Credentials;
  idempotencyKey?: string;
  signal?: AbortSignal;
  /** Give up after this long. Defaults to 10 seconds. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

interface ErrorBodyWire {
  error?: {
    code?: unknown;
    message?: unknown;
    trace_id?: unknown;
    retry_after?: unknown;
  };
}

function combineSignals(signals: AbortSignal[]): AbortSignal {
  if (signals.length === 1 && signals[0] !== undefined) return signals[0];
  if (typeof AbortSignal.any === "function") return AbortSignal.any(signals);
  const controller = new AbortController();
  for (const signal of signals) {
    if (signal.aborted) controller.abort(signal.reason);
    else signal.addEventListener("abort", () => controller.abort(signal.reason), { once: true });
  }
  return controller.signal;
}

function parseRetryAfter(header: string | null, fromBody: unknown): number | null {
  if (typeof fromBody === "number" && Number.isFinite(fromBody)) return Math.max(0, fromBody);
  if (header === null) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

async function errorFromResponse(response: Response): Promise<ApiError> {
  let body: ErrorBodyWire = {};
  try {
    body = (await response.json()) as ErrorBodyWire;
  } catch {
    // Not JSON: a proxy's error page, or an API too old to know the error shape.
  }
  const error = body.error ?? {};
  const code = typeof error.code === "string" ? error.code : `http_${response.status}`;
  const message =
    typeof error.message === "string" ? error.message : `HTTP ${response.status} ${response.statusText}`.trim();
  const traceId =
    typeof error.trace_id === "string" ? error.trace_id : response.headers.get("X-Trace-Id");
  return new ApiError(
    response.status,
    code,
    message,
    traceId,
    parseRetryAfter(response.headers.get("Retry-After"), error.retry_after),
  );
}

/** A successful answer: its body, and its status for routes whose 2xx codes differ in meaning
 *  (`POST /jobs/{id}/cancel`: 200 cancelled, 202 asked to stop). */
export interface ApiResponse<T> {
  status: number;
  data: T;
}

/** Fetch JSON from the API (same origin). Resolves to the parsed body; rejects with ApiError,
 *  or with the caller's AbortError when the caller's signal aborts. */
export async function apiFetch<T>(path: string, options: RequestOptions = {}): Promise<T> {
  return (await apiRequest<T>(path, options)).data;
}

/** apiFetch, with the response's status. */
export async function apiRequest<T>(path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
  const { method = "GET", body, credentials = NO_CREDENTIALS, idempotencyKey, signal } = options;
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (credentials.apiKey !== "") headers["X-API-Key"] = credentials.apiKey;
  if (credentials.tenant !== "") headers["X-Tenant-Id"] = credentials.tenant;
  if (idempotencyKey !== undefined) headers["Idempotency-Key"] = idempotencyKey;

  const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const init: RequestInit = {
    method,
    headers,
    signal: combineSignals(signal ? [signal, timeout] : [timeout]),
  };
  if (body !== undefined) init.body = JSON.stringify(body);

  let response: Response;
  try {
    response = await fetch(path, init);
  } catch (cause) {
    if (signal?.aborted) throw cause;
    const message = timeout.aborted
      ? "The API did not answer in time."
      : "Cannot reach the API.";
    throw new ApiError(0, "network", message);
  }
  if (!response.ok) throw await errorFromResponse(response);
  // 204 (a DELETE) has no body to parse.
  if (response.status === 204) return { status: 204, data: undefined as T };
  try {
    return { status: response.status, data: (await response.json()) as T };
  } catch {
    throw new ApiError(response.status, "bad_response", "The API sent a response that is not JSON.");
  }
}

/** True for the error a fetch rejects with when its caller aborted it. */
export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}
