import { useCallback, useEffect, useRef, useState } from "react";

import type { ReceivedEvent } from "./apply";
import { LiveConnection, type LiveState, type ResyncReason, type SocketLike } from "./connection";

export interface LiveEventsOptions {
  /** Sent as `?api_key=` (browsers cannot set headers on a WebSocket); reconnects on change. */
  apiKey: string;
  /** Tests swap the WebSocket. */
  createSocket?: (url: string) => SocketLike;
}

/** Who the feed hands its events to. */
export interface LiveListener {
  /** A batch of events, at most every 250 ms. */
  onEvents: (events: ReceivedEvent[]) => void;
  /** Refetch everything shown: connected, the server said `refresh`, or history was lost. */
  onResync: (reason: ResyncReason) => void;
}

export interface LiveEvents {
  state: LiveState;
  /** The last event seq received (0 before the first hello): what fetched data is "as of". */
  seq: () => number;
  reconnectNow: () => void;
  /** Hand every batch and resync to `listener` until the returned function is called; for an
   *  effect. Stable, like `seq` and `reconnectNow`. */
  subscribe: (listener: LiveListener) => () => void;
}

export function liveUrl(location: Pick<Location, "protocol" | "host">, since: number | null, apiKey: string): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams();
  if (since !== null) query.set("since", String(since));
  if (apiKey !== "") query.set("api_key", apiKey);
  const search = query.toString();
  return `${scheme}//${location.host}/ws${search ? `?${search}` : ""}`;
}

/** The live feed: applies nothing itself, hands batches of events to whoever subscribed. Its
 *  seq is needed by the data the events are applied to, so the feed comes first and the page
 *  subscribes to it afterwards, rather than passing handlers in. */
export function useLiveEvents({ apiKey, createSocket }: LiveEventsOptions): LiveEvents {
  const [state, setState] = useState<LiveState>({ status: "connecting", retryAt: null });
  // Listeners outlive connections: a new API key replaces the connection, not who listens.
  const listeners = useRef(new Set<LiveListener>());
  const connection = useRef<LiveConnection | null>(null);
  const lastSeq = useRef(0);

  useEffect(() => {
    const live = new LiveConnection({
      url: (since) => liveUrl(window.location, since, apiKey),
      initialSeq: lastSeq.current > 0 ? lastSeq.current : null,
      onEvents: (events) => {
        for (const listener of listeners.current) listener.onEvents(events);
      },
      onResync: (reason) => {
        for (const listener of listeners.current) listener.onResync(reason);
      },
      onState: setState,
      ...(createSocket && { createSocket }),
    });
    connection.current = live;
    live.start();
    const online = () => live.reconnectNow();
    window.addEventListener("online", online);
    return () => {
      window.removeEventListener("online", online);
      lastSeq.current = live.seq ?? lastSeq.current;
      live.stop();
      connection.current = null;
    };
  }, [apiKey, createSocket]);

  const seq = useCallback(() => connection.current?.seq ?? lastSeq.current, []);
  const reconnectNow = useCallback(() => connection.current?.reconnectNow(), []);
  const subscribe = useCallback((listener: LiveListener) => {
    listeners.current.add(listener);
    return () => {
      listeners.current.delete(listener);
    };
  }, []);
  return { state, seq, reconnectNow, subscribe };
}
