import { afterEach, describe, expect, it, vi } from "vitest";

import { ApiError, apiFetch } from "./api";

function respond(status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return vi.fn(() => Promise.resolve(new Response(text, { status, headers })));
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("apiFetch", () => {
  it("sends the key, the tenant and the idempotency key as headers", async () => {
    const fetch = respond(201, { ok: true });
    vi.stubGlobal("fetch", fetch);
    await apiFetch("/jobs", {
      method: "POST",
      body: { text: "Hi" },
      credentials: { apiKey: "secret", tenant: "acme" },
      idempotencyKey: "k1",
    });
    const [path, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(path).toBe("/jobs");
    expect(init.method).toBe("POST");
    expect(init.body).toBe('{"text":"Hi"}');
    expect(init.headers).toMatchObject({
      "X-API-Key": "secret",
      "X-Tenant-Id": "acme",
      "Idempotency-Key": "k1",
      "Content-Type": "application/json",
      Accept: "application/json",
    });
  });

  it("leaves out empty credentials", async () => {
    const fetch = respond(200, {});
    vi.stubGlobal("fetch", fetch);
    await apiFetch("/metrics");
    const [, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(Object.keys(init.headers as object)).toEqual(["Accept"]);
  });

  it("turns the API's error shape into an ApiError", async () => {
    vi.stubGlobal(
      "fetch",
      respond(401, { error: { code: "unauthorized", message: "missing or invalid X-API-Key", trace_id: "t1" } }),
    );
    const error = await apiFetch("/jobs").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 401, code: "unauthorized", traceId: "t1", isUnauthorized: true });
  });

  it("reads when to try again after a 429, from the body or Retry-After", async () => {
    vi.stubGlobal(
      "fetch",
      respond(429, { error: { code: "rate_limited", message: "slow down", retry_after: 12 } }, { "Retry-After": "12" }),
    );
    await expect(apiFetch("/jobs")).rejects.toMatchObject({ isRateLimited: true, retryAfterSec: 12 });
    vi.stubGlobal("fetch", respond(429, "Too Many Requests", { "Retry-After": "30" }));
    await expect(apiFetch("/jobs")).rejects.toMatchObject({ code: "http_429", retryAfterSec: 30 });
  });

  it("reports a proxy's error page as the API being unavailable", async () => {
    vi.stubGlobal("fetch", respond(502, "<html>Bad Gateway</html>"));
    await expect(apiFetch("/jobs")).rejects.toMatchObject({ status: 502, isUnavailable: true });
  });

  it("reports no answer at all as status 0", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(() => Promise.reject(new TypeError("Failed to fetch"))),
    );
    await expect(apiFetch("/jobs")).rejects.toMatchObject({ status: 0, code: "network", isUnavailable: true });
  });

  it("passes the caller's abort through untouched", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(
        (_path: string, init: RequestInit) =>
          new Promise((_resolve, reject) => {
            init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
          }),
      ),
    );
    const controller = new AbortController();
    const pending = apiFetch("/jobs", { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
  });
});
