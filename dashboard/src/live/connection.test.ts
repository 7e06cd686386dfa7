import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { FakeSockets } from "../test/fakeSocket";
import { buildLiveEventWire } from "../test/factories/job";
import type { ReceivedEvent } from "./apply";
import { CLOSE_UNAUTHORIZED, LiveConnection, type LiveState, type ResyncReason } from "./connection";

function setup(options: { maxBuffer?: number; initialSeq?: number } = {}) {
  const sockets = new FakeSockets();
  const batches: ReceivedEvent[][] = [];
  const resyncs: ResyncReason[] = [];
  const states: LiveState[] = [];
  const connection = new LiveConnection({
    url: (since) => (since === null ? "/ws" : `/ws?since=${since}`),
    onEvents: (events) => batches.push(events),
    onResync: (reason) => resyncs.push(reason),
    onState: (state) => states.push(state),
    createSocket: sockets.create,
    ...options,
  });
  connection.start();
  return { sockets, batches, resyncs, states, connection };
}

function event(seq: number) {
  return buildLiveEventWire({ seq, type: "job_created", status: "pending" });
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("LiveConnection", () => {
  it("is live after the server's hello and asks the page to fetch what it shows", () => {
    const { sockets, resyncs, connection } = setup();
    expect(sockets.last.since).toBeNull();
    expect(connection.current.status).toBe("connecting");
    sockets.last.send({ type: "hello", seq: 41 });
    expect(connection.current.status).toBe("live");
    expect(connection.seq).toBe(41);
    expect(resyncs).toEqual(["connected"]);
  });

  it("hands over events in batches, at most every 250 ms, however many arrive", () => {
    const { sockets, batches } = setup();
    sockets.last.send({ type: "hello", seq: 0 });
    for (let seq = 1; seq <= 1000; seq += 1) sockets.last.send(event(seq));
    expect(batches).toHaveLength(0);
    vi.advanceTimersByTime(250);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toHaveLength(1000);
    expect(batches[0]?.[999]?.seq).toBe(1000);
    sockets.last.send(event(1001));
    vi.advanceTimersByTime(249);
    expect(batches).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(batches).toHaveLength(2);
  });

  it("reconnects after a drop, from the last seq it saw, and flags the replay", () => {
    const { sockets, batches, states, connection } = setup();
    sockets.last.send({ type: "hello", seq: 10 });
    sockets.last.send(event(11));
    sockets.last.drop();
    expect(batches.at(-1)?.map((e) => e.seq)).toEqual([11]); // delivered before going offline
    expect(connection.current.status).toBe("offline");
    expect(states.at(-1)?.retryAt).not.toBeNull();
    vi.advanceTimersByTime(1000);
    expect(sockets.all).toHaveLength(2);
    expect(sockets.last.since).toBe("11");
    sockets.last.send({ type: "hello", seq: 13 });
    sockets.last.send(event(11)); // a duplicate: skipped
    sockets.last.send(event(12));
    sockets.last.send(event(13));
    sockets.last.send(event(14));
    vi.advanceTimersByTime(250);
    expect(batches.at(-1)?.map((e) => [e.seq, e.replayed])).toEqual([
      [12, true],
      [13, true],
      [14, false],
    ]);
    expect(connection.current.status).toBe("live");
  });

  it("backs off between failed attempts, up to 5 s", () => {
    const { sockets } = setup();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 6; attempt += 1) {
      const before = sockets.all.length;
      sockets.last.drop();
      let waited = 0;
      while (sockets.all.length === before) {
        vi.advanceTimersByTime(50);
        waited += 50;
      }
      delays.push(waited);
    }
    expect(delays[0]).toBeLessThanOrEqual(650);
    expect(delays[1]).toBeGreaterThan(delays[0] ?? 0);
    expect(Math.max(...delays)).toBeLessThanOrEqual(6000);
  });

  it("stops retrying when the server refuses the API key", () => {
    const { sockets, connection } = setup();
    sockets.last.drop(CLOSE_UNAUTHORIZED);
    expect(connection.current.status).toBe("unauthorized");
    vi.advanceTimersByTime(60_000);
    expect(sockets.all).toHaveLength(1);
  });

  it("starts over when the server's history is behind ours (a new database)", () => {
    const { sockets, resyncs, connection } = setup({ initialSeq: 500 });
    expect(sockets.last.since).toBe("500");
    sockets.last.send({ type: "hello", seq: 3 });
    expect(resyncs).toEqual(["reset"]);
    expect(sockets.all).toHaveLength(2);
    expect(sockets.last.since).toBe("3");
    sockets.last.send({ type: "hello", seq: 3 });
    expect(connection.current.status).toBe("live");
  });

  it("refetches everything when the server says the backlog was too large", () => {
    const { sockets, resyncs, connection } = setup();
    sockets.last.send({ type: "hello", seq: 1 });
    sockets.last.send({ type: "refresh", seq: 9000 });
    expect(resyncs).toEqual(["connected", "refresh"]);
    expect(connection.seq).toBe(9000);
  });

  it("drops a backlog too large to keep and resyncs instead", () => {
    const { sockets, resyncs, batches } = setup({ maxBuffer: 100 });
    sockets.last.send({ type: "hello", seq: 0 });
    for (let seq = 1; seq <= 101; seq += 1) sockets.last.send(event(seq));
    vi.advanceTimersByTime(250);
    expect(batches).toHaveLength(0);
    expect(resyncs).toEqual(["connected", "overflow"]);
  });

  it("reconnects when the server goes silent (no ping for 40 s)", () => {
    const { sockets } = setup();
    sockets.last.send({ type: "hello", seq: 0 });
    vi.advanceTimersByTime(30_000);
    sockets.last.send({ type: "ping" });
    vi.advanceTimersByTime(30_000);
    expect(sockets.all).toHaveLength(1);
    vi.advanceTimersByTime(11_000);
    expect(sockets.all[0]?.closed).toBe(true);
    vi.advanceTimersByTime(1000);
    expect(sockets.all).toHaveLength(2);
  });

  it("ignores frames it does not understand", () => {
    const { sockets, batches } = setup();
    sockets.last.send({ type: "hello", seq: 0 });
    sockets.last.onmessage?.({ data: "not json" } as MessageEvent);
    sockets.last.send({ type: "job_created", seq: 1 }); // no jobId
    vi.advanceTimersByTime(250);
    expect(batches).toHaveLength(0);
  });

  it("closes quietly when stopped", () => {
    const { sockets, connection } = setup();
    connection.stop();
    expect(sockets.last.closed).toBe(true);
    vi.advanceTimersByTime(60_000);
    expect(sockets.all).toHaveLength(1);
  });
});
