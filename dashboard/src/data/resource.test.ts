import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { ApiError } from "../services/api";
import { Resource } from "./resource";

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("Resource", () => {
  it("fetches at most once per interval, and once more at its end however often it was asked", async () => {
    const fetch = vi.fn(() => Promise.resolve("data"));
    const resource = new Resource({ fetch, currentSeq: () => 0, minIntervalMs: 1000 });
    resource.refetch();
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 100; i += 1) resource.refetch();
    await vi.advanceTimersByTimeAsync(999);
    expect(fetch).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetch).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(5000);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("asked while a fetch runs, fetches again after it", async () => {
    const first = deferred<string>();
    const fetch = vi.fn().mockReturnValueOnce(first.promise).mockResolvedValue("second");
    const resource = new Resource<string>({ fetch, currentSeq: () => 0, minIntervalMs: 1000 });
    resource.refetch();
    resource.refetch();
    expect(fetch).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1500);
    first.resolve("first");
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(0);
    expect(resource.getState().data?.data).toBe("second");
  });

  it("stamps data with the live seq at the start of the fetch", async () => {
    let seq = 7;
    const pending = deferred<string>();
    const resource = new Resource<string>({ fetch: () => pending.promise, currentSeq: () => seq });
    resource.refetchNow();
    seq = 9;
    pending.resolve("x");
    await vi.advanceTimersByTimeAsync(0);
    expect(resource.getState().data).toEqual({ data: "x", asOfSeq: 7 });
  });

  it("keeps the last data when a fetch fails, with the error beside it", async () => {
    const fetch = vi
      .fn()
      .mockResolvedValueOnce("good")
      .mockRejectedValueOnce(new ApiError(0, "network", "Cannot reach the API."));
    const resource = new Resource<string>({ fetch, currentSeq: () => 0, minIntervalMs: 0 });
    resource.refetchNow();
    await vi.advanceTimersByTimeAsync(0);
    resource.refetchNow();
    await vi.advanceTimersByTimeAsync(0);
    const state = resource.getState();
    expect(state.data?.data).toBe("good");
    expect(state.error?.code).toBe("network");
    expect(state.loading).toBe(false);
  });

  it("patches data and refetches only when the patch says it is stale", async () => {
    const fetch = vi.fn().mockResolvedValue(1);
    const resource = new Resource<number>({ fetch, currentSeq: () => 0, minIntervalMs: 0 });
    resource.refetchNow();
    await vi.advanceTimersByTimeAsync(0);
    const listener = vi.fn();
    resource.subscribe(listener);
    resource.apply((n) => ({ data: n + 1, stale: false }));
    expect(resource.getState().data?.data).toBe(2);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(fetch).toHaveBeenCalledTimes(1);
    const before = resource.getState().data;
    resource.apply((n) => ({ data: n, stale: true }));
    expect(resource.getState().data).toBe(before); // unchanged data stays the same object
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("stops when disposed", async () => {
    const fetch = vi.fn().mockResolvedValue(1);
    const resource = new Resource<number>({ fetch, currentSeq: () => 0, minIntervalMs: 1000 });
    resource.refetchNow();
    resource.refetch();
    resource.dispose();
    await vi.advanceTimersByTimeAsync(5000);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(resource.getState().data).toBeNull();
  });
});
