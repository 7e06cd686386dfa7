import { useCallback, useEffect, useRef, useState } from "react";

import type { ReceivedEvent } from "./apply";
import { LiveConnection, type LiveState, type ResyncReason, type SocketLike } from "./connection";

export interface LiveEventsOptions {
  /** Sent as `?api_key=` (browsers cannot set headers on a WebSocket); reconnects on change. */
  apiKey: string;
  /** A batch of events, at most every 250 ms. */
  onEvents: (events: ReceivedEvent[]) => void;
  /** Refetch everything shown: connected, the server said `refresh`, or history was lost. */
  onResync: (reason: ResyncReason) => void;
  /** Tests swap the WebSocket. */
  createSocket?: (url: string) => SocketLike;
}

export interface LiveEvents {
  state: LiveState;
  /** The last event seq received (0 before the first hello): what fetched data is "as of". */
  seq: () => number;
  reconnectNow: () => void;
}

export function liveUrl(location: Pick<Location, "protocol" | "host">, since: number | null, apiKey: string): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams();
  if (since !== null) query.set("since", String(since));
  if (apiKey !== "") query.set("api_key", apiKey);
  const search = query.toString();
  return `${scheme}//${location.host}/ws${search ? `?${search}` : ""}`;
}

/** The live feed: applies nothing itself, hands batches of events to the page. */
export function useLiveEvents({ apiKey, onEvents, onResync, createSocket }: LiveEventsOptions): LiveEvents {
  const [state, setState] = useState<LiveState>({ status: "connecting", retryAt: null });
  const handlers = useRef({ onEvents, onResync });
  handlers.current = { onEvents, onResync };
  const connection = useRef<LiveConnection | null>(null);
  const lastSeq = useRef(0);

  useEffect(() => {
    const live = new LiveConnection({
      url: (since) => liveUrl(window.location, since, apiKey),
      initialSeq: lastSeq.current > 0 ? lastSeq.current : null,
      onEvents: (events) => handlers.current.onEvents(events),
      onResync: (reason) => handlers.current.onResync(reason),
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
  return { state, seq, reconnectNow };
}
