// One piece of server data the page shows (a page of jobs, the counts, …): fetched on demand,
// patched by live events in between, and refetched at most once per `minIntervalMs` however
// often it is asked to. A refetch asked for while one is running or too soon is not dropped:
// it runs once at the earliest allowed moment, so the data always ends up current.

import { ApiError, isAbort } from "../services/api";
import type { Applied, Snapshot } from "../live/apply";

export interface ResourceState<T> {
  data: Snapshot<T> | null;
  /** The last fetch's error; cleared by the next success. Data, if any, is kept meanwhile. */
  error: ApiError | null;
  /** A fetch is running. */
  loading: boolean;
}

export interface ResourceOptions<T> {
  fetch: (signal: AbortSignal) => Promise<T>;
  /** The live feed's last seq, stamped on each fetch as it starts. */
  currentSeq: () => number;
  minIntervalMs?: number;
  now?: () => number;
}

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ApiError(0, "client_error", `The dashboard could not read the answer: ${message}`);
}

export class Resource<T> {
  private state: ResourceState<T> = { data: null, error: null, loading: false };
  private readonly listeners = new Set<() => void>();
  private controller: AbortController | null = null;
  private lastStart = Number.NEGATIVE_INFINITY;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private again = false;
  private disposed = false;
  private readonly minIntervalMs: number;
  private readonly now: () => number;

  constructor(private readonly options: ResourceOptions<T>) {
    this.minIntervalMs = options.minIntervalMs ?? 1000;
    this.now = options.now ?? (() => Date.now());
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly getState = (): ResourceState<T> => this.state;

  /** Fetch soon: now if allowed, else once when the interval has passed. */
  refetch(): void {
    if (this.disposed) return;
    if (this.controller !== null) {
      this.again = true;
      return;
    }
    if (this.timer !== null) return;
    const wait = this.lastStart + this.minIntervalMs - this.now();
    if (wait <= 0) {
      this.run();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.run();
    }, wait);
  }

  /** Fetch now, whatever the interval (the user asked); joins a fetch already running. */
  refetchNow(): void {
    if (this.disposed || this.controller !== null) return;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.run();
  }

  /** Patch the data with live events; refetches (throttled) when the patch says it is stale. */
  apply(patch: (data: T, asOfSeq: number) => Applied<T>): void {
    const snapshot = this.state.data;
    if (snapshot === null) return;
    const { data, stale } = patch(snapshot.data, snapshot.asOfSeq);
    if (data !== snapshot.data) this.setState({ ...this.state, data: { data, asOfSeq: snapshot.asOfSeq } });
    if (stale) this.refetch();
  }

  /** Replace the data outright (e.g. with what a POST returned). */
  set(data: T): void {
    const asOfSeq = this.state.data?.asOfSeq ?? 0;
    this.setState({ ...this.state, data: { data, asOfSeq } });
  }

  dispose(): void {
    this.disposed = true;
    this.controller?.abort();
    if (this.timer !== null) clearTimeout(this.timer);
    this.listeners.clear();
  }

  private run(): void {
    const controller = new AbortController();
    this.controller = controller;
    this.again = false;
    this.lastStart = this.now();
    const asOfSeq = this.options.currentSeq();
    this.setState({ ...this.state, loading: true });
    this.options.fetch(controller.signal).then(
      (data) => {
        if (this.controller !== controller) return;
        this.controller = null;
        this.setState({ data: { data, asOfSeq }, error: null, loading: false });
        if (this.again) this.refetch();
      },
      (error: unknown) => {
        if (this.controller !== controller) return;
        this.controller = null;
        if (isAbort(error) && controller.signal.aborted) return;
        this.setState({ ...this.state, error: asApiError(error), loading: false });
        if (this.again) this.refetch();
      },
    );
  }

  private setState(state: ResourceState<T>): void {
    if (this.disposed) return;
    this.state = state;
    for (const listener of this.listeners) listener();
  }
}
