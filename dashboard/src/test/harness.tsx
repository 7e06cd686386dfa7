// The whole page against the fake API and a fake socket: what a test renders, and the handles it
// drives the server's side with.

import { act, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { expect, vi } from "vitest";

import { App } from "../App";
import type { DashboardConfig } from "../config";
import type { JobWire, MetricsWire } from "../services/jobs";
import type { QueueWire } from "../services/queues";
import type { RetentionWire } from "../services/retention";
import type { ScheduleWire } from "../services/schedules";
import type { WhoAmIWire } from "../services/whoami";
import { apiError, FakeApi, json } from "./fakeApi";
import { FakeSockets } from "./fakeSocket";
import { buildListWire, buildLiveEventWire, buildMetricsWire } from "./factories/job";
import { buildQueueWire } from "./factories/queue";
import { buildRetentionWire } from "./factories/schedule";

export const CONFIG: DashboardConfig = { apiKeyRequired: false, version: "0.1.0" };

export interface Harness {
  api: FakeApi;
  sockets: FakeSockets;
  /** What `GET /jobs?status=…` lists, per status (the DLQ lists `failed`). */
  lists: Partial<Record<string, JobWire[]>>;
  metrics: MetricsWire;
  /** What `GET /queues` lists; pause and resume change it, as the API would. */
  queues: QueueWire[];
  /** What `GET /schedules` lists; a PATCH changes it, as the API would. */
  schedules: ScheduleWire[];
  /** What `GET /retention` answers (retention off unless a test says otherwise). */
  retention: RetentionWire;
  /** What `GET /whoami` answers: auth off (an admin) unless a test says otherwise. */
  whoami: WhoAmIWire;
}

/** A fake API that serves the lists, counts, chart, workers, queues (and pauses and resumes
 *  them), schedules (and enables and disables them) and retention, stubbed in as `fetch`; a
 *  test adds the routes it is about with `api.on` (the last added wins). */
export function startHarness(): Harness {
  const harness: Harness = {
    api: new FakeApi(),
    sockets: new FakeSockets(),
    lists: {},
    metrics: buildMetricsWire(),
    queues: [],
    schedules: [],
    retention: buildRetentionWire(),
    whoami: { role: "admin", tenant: null, key_id: null, auth: false },
  };
  harness.api
    .on("GET", /^\/metrics/, () => json(harness.metrics))
    .on("GET", /^\/stats\/throughput/, () => json({ buckets: [] }))
    .on("GET", /^\/workers/, () => json({ workers: [] }))
    .on("GET", /^\/jobs\?/, (request) => {
      const status = new URL(request.path, "http://x").searchParams.get("status") ?? "";
      return json(buildListWire(harness.lists[status] ?? []));
    })
    .on("GET", /^\/dlq\?/, () => json(buildListWire(harness.lists.failed ?? [])))
    .on("GET", /^\/queues$/, () => json({ queues: harness.queues }))
    .on("GET", /^\/retention$/, () => json(harness.retention))
    .on("GET", /^\/whoami$/, () => json(harness.whoami))
    .on("GET", /^\/schedules$/, () => json({ schedules: harness.schedules }))
    .on("PATCH", /^\/schedules\/[^/]+$/, (request) => {
      const name = decodeURIComponent(request.path.split("/")[2] ?? "");
      const known = harness.schedules.find((schedule) => schedule.name === name);
      if (known === undefined) return apiError(404, "not_found", `no schedule ${name}`);
      const schedule = { ...known, ...(request.body as Partial<ScheduleWire>), updated_at: "2026-01-02T10:00:00Z" };
      harness.schedules = harness.schedules.map((other) => (other.name === name ? schedule : other));
      return json(schedule);
    })
    .on("POST", /^\/queues\/[^/]+\/(pause|resume)$/, (request) => {
      const [, name = "", action] = request.path.split("/").map(decodeURIComponent).filter(Boolean);
      if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/.test(name)) {
        return apiError(422, "invalid_request", "queue names are 1 to 128 letters, digits and _ . : -");
      }
      const known = harness.queues.find((queue) => queue.name === name) ?? buildQueueWire({ name });
      const paused = action === "pause";
      const queue = { ...known, paused, paused_at: paused ? "2026-01-02T10:00:00Z" : null };
      harness.queues = [...harness.queues.filter((other) => other.name !== name), queue].sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      );
      return json(queue);
    });
  vi.stubGlobal("fetch", harness.api.fetch);
  return harness;
}

export function renderApp(harness: Harness, config: DashboardConfig = CONFIG) {
  const user = userEvent.setup();
  const view = render(<App config={config} createSocket={harness.sockets.create} />);
  return { user, ...view };
}

/** The server says hello: the page is live, as of `seq`. */
export async function goLive(harness: Harness, seq = 100): Promise<void> {
  await waitFor(() => expect(harness.sockets.all.length).toBeGreaterThan(0));
  act(() => harness.sockets.last.send({ type: "hello", seq }));
  await screen.findByText("Live");
}

/** The server sends job events over the socket. */
export function sendEvents(harness: Harness, ...events: Parameters<typeof buildLiveEventWire>[0][]): void {
  act(() => {
    for (const event of events) harness.sockets.last.send(buildLiveEventWire(event));
  });
}
