// The whole page against the fake API and a fake socket: what a test renders, and the handles it
// drives the server's side with.

import { act, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { expect, vi } from "vitest";

import { App } from "../App";
import type { DashboardConfig } from "../config";
import type { JobWire, MetricsWire } from "../services/jobs";
import { FakeApi, json } from "./fakeApi";
import { FakeSockets } from "./fakeSocket";
import { buildListWire, buildLiveEventWire, buildMetricsWire } from "./factories/job";

export const CONFIG: DashboardConfig = { apiKeyRequired: false, version: "0.1.0" };

export interface Harness {
  api: FakeApi;
  sockets: FakeSockets;
  /** What `GET /jobs?status=…` lists, per status (the DLQ lists `failed`). */
  lists: Partial<Record<string, JobWire[]>>;
  metrics: MetricsWire;
}

/** A fake API that serves the lists, counts, chart and workers, stubbed in as `fetch`; a test
 *  adds the routes it is about with `api.on` (the last added wins). */
export function startHarness(): Harness {
  const harness: Harness = {
    api: new FakeApi(),
    sockets: new FakeSockets(),
    lists: {},
    metrics: buildMetricsWire(),
  };
  harness.api
    .on("GET", /^\/metrics/, () => json(harness.metrics))
    .on("GET", /^\/stats\/throughput/, () => json({ buckets: [] }))
    .on("GET", /^\/workers/, () => json({ workers: [] }))
    .on("GET", /^\/jobs\?/, (request) => {
      const status = new URL(request.path, "http://x").searchParams.get("status") ?? "";
      return json(buildListWire(harness.lists[status] ?? []));
    })
    .on("GET", /^\/dlq\?/, () => json(buildListWire(harness.lists.failed ?? [])));
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
