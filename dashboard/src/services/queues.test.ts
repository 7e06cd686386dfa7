import { afterEach, describe, expect, it, vi } from "vitest";

import { buildQueueWire } from "../test/factories/queue";
import { apiError, FakeApi, json } from "../test/fakeApi";
import { ApiError } from "./api";
import { listQueues, queueFromWire, setQueuePaused, withQueue } from "./queues";

afterEach(() => {
  vi.unstubAllGlobals();
});

const CREDENTIALS = { apiKey: "secret", tenant: "acme" };

describe("queues", () => {
  it("turn a wire queue into camelCase with a Date", () => {
    const queue = queueFromWire(
      buildQueueWire({
        name: "emails",
        paused: true,
        paused_at: "2026-01-02T10:00:00Z",
        pending: 4,
        scheduled: 2,
        running: 1,
        oldest_pending_age_sec: 12.5,
        done_last_minute: 7,
        failed_last_minute: 3,
      }),
    );
    expect(queue).toEqual({
      name: "emails",
      paused: true,
      pausedAt: new Date("2026-01-02T10:00:00Z"),
      pending: 4,
      scheduled: 2,
      running: 1,
      oldestPendingAgeSec: 12.5,
      doneLastMinute: 7,
      failedLastMinute: 3,
    });
    expect(queueFromWire(buildQueueWire()).pausedAt).toBeNull();
  });

  it("put a queue in place, or in name order when it is new", () => {
    const [a, c] = [queueFromWire(buildQueueWire({ name: "a" })), queueFromWire(buildQueueWire({ name: "c" }))];
    const b = queueFromWire(buildQueueWire({ name: "b" }));
    const pausedA = { ...a, paused: true };
    expect(withQueue([a, c], pausedA)).toEqual([pausedA, c]);
    expect(withQueue([a, c], b).map((queue) => queue.name)).toEqual(["a", "b", "c"]);
    expect(withQueue([a], c).map((queue) => queue.name)).toEqual(["a", "c"]);
  });

  it("list the queues and pause or resume one by its escaped name, without a body", async () => {
    const api = new FakeApi()
      .on("GET", /^\/queues$/, () => json({ queues: [buildQueueWire({ name: "a:b" })] }))
      .on("POST", /^\/queues\/a%3Ab\/(pause|resume)$/, (request) =>
        json(buildQueueWire({ name: "a:b", paused: request.path.endsWith("/pause") })),
      )
      .on("POST", /^\/queues\/bad%20name\/pause$/, () =>
        apiError(422, "invalid_request", "invalid queue name"),
      );
    vi.stubGlobal("fetch", api.fetch);

    expect((await listQueues(CREDENTIALS)).map((queue) => queue.name)).toEqual(["a:b"]);
    expect((await setQueuePaused(CREDENTIALS, "a:b", "pause")).paused).toBe(true);
    expect((await setQueuePaused(CREDENTIALS, "a:b", "resume")).paused).toBe(false);
    const posts = api.calls("POST", /./);
    expect(posts.map((request) => request.path)).toEqual(["/queues/a%3Ab/pause", "/queues/a%3Ab/resume"]);
    expect(posts[0]?.body).toBeUndefined();
    expect(posts[0]?.headers).toMatchObject({ "X-API-Key": "secret", "X-Tenant-Id": "acme" });
    expect(posts[0]?.headers["Content-Type"]).toBeUndefined();

    const refused = await setQueuePaused(CREDENTIALS, "bad name", "pause").catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).message).toBe("invalid queue name");
  });
});
