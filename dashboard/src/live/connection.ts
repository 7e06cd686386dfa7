// The `/ws` connection, without React: connect, remember the last seq seen, batch events for
// rendering, reconnect with backoff and catch up with `?since=<seq>`. useLiveEvents wraps it.

import { parseLiveMessage } from "../services/jobs";
import type { ReceivedEvent } from "./apply";

export type LiveStatus =
  /** Not connected yet (first attempt). */
  | "connecting"
  /** The server said hello; events flow. */
  | "live"
  /** Lost or refused; another attempt is scheduled (`retryAt`). */
  | "offline"
  /** The server closed with 4401: the API key is missing or wrong. No retry until it changes. */
  | "unauthorized";

export interface LiveState {
  status: LiveStatus;
  /** When the next reconnect attempt is due (ms since the epoch), while offline. */
  retryAt: number | null;
}

/** Why the page should refetch everything it shows. */
export type ResyncReason = "connected" | "refresh" | "reset" | "overflow";

/** What the connection needs from a WebSocket; the browser's satisfies it, tests pass a fake. */
export interface SocketLike {
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  close(code?: number, reason?: string): void;
}

export interface LiveOptions {
  /** The URL for a connection that resumes after `since` (null: no history wanted). */
  url: (since: number | null) => string;
  onEvents: (events: ReceivedEvent[]) => void;
  onResync: (reason: ResyncReason) => void;
  onState: (state: LiveState) => void;
  createSocket?: (url: string) => SocketLike;
  /** Deliver events at most this often, in one batch. Defaults to 250 ms. */
  flushMs?: number;
  /** Past this many undelivered events, drop them and resync instead. Defaults to 20,000. */
  maxBuffer?: number;
  /** Reconnect delays: `min(maxDelayMs, baseDelayMs * 2^attempt)`, ±20 %. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Reconnect when nothing (not even a ping, sent every ~15 s) came for this long. */
  silenceMs?: number;
  /** Resume after this seq (a connection replacing one that used another API key). */
  initialSeq?: number | null;
}

export const CLOSE_UNAUTHORIZED = 4401;

export class LiveConnection {
  private socket: SocketLike | null = null;
  private stopped = true;
  private attempt = 0;
  private lastSeq: number | null = null;
  /** Events up to this seq arrived as the catch-up replay of the current connection. */
  private replayUpTo = -1;
  private buffer: ReceivedEvent[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private silenceTimer: ReturnType<typeof setTimeout> | null = null;
  private state: LiveState = { status: "connecting", retryAt: null };
  private readonly options: Required<LiveOptions>;

  constructor(options: LiveOptions) {
    this.options = {
      createSocket: (url) => new WebSocket(url),
      flushMs: 250,
      maxBuffer: 20_000,
      baseDelayMs: 500,
      maxDelayMs: 5_000,
      silenceMs: 40_000,
      initialSeq: null,
      ...options,
    };
    this.lastSeq = this.options.initialSeq;
  }

  /** The highest event seq received (delivered or still batched), or null before the first hello. */
  get seq(): number | null {
    return this.lastSeq;
  }

  get current(): LiveState {
    return this.state;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimer("reconnectTimer");
    this.clearTimer("silenceTimer");
    this.clearTimer("flushTimer");
    this.buffer = [];
    this.detach()?.close(1000, "page closed");
  }

  /** Try again now (the user asked, or the network came back). */
  reconnectNow(): void {
    if (this.stopped || this.state.status === "live") return;
    this.clearTimer("reconnectTimer");
    this.detach()?.close();
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    let socket: SocketLike;
    try {
      socket = this.options.createSocket(this.options.url(this.lastSeq));
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onmessage = (event) => {
      if (this.socket === socket) this.receive(String(event.data));
    };
    socket.onclose = (event) => {
      if (this.socket === socket) this.closed(event.code);
    };
    socket.onerror = () => {
      // A close event always follows; that is where reconnecting is decided.
    };
    this.armSilenceTimer();
  }

  private detach(): SocketLike | null {
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onmessage = null;
      socket.onclose = null;
      socket.onerror = null;
      socket.onopen = null;
    }
    return socket;
  }

  private receive(text: string): void {
    this.armSilenceTimer();
    const message = parseLiveMessage(text);
    if (message === null) return;
    switch (message.type) {
      case "ping":
        return;
      case "hello":
        this.hello(message.seq);
        return;
      case "refresh":
        // The backlog was too large to replay: everything on the page is suspect.
        this.buffer = [];
        if (message.seq !== null) this.lastSeq = message.seq;
        this.options.onResync("refresh");
        return;
      case "event": {
        const event = message.event;
        if (this.lastSeq !== null && event.seq <= this.lastSeq) return; // seen already
        this.lastSeq = event.seq;
        this.buffer.push({ ...event, replayed: event.seq <= this.replayUpTo });
        if (this.buffer.length > this.options.maxBuffer) {
          this.buffer = [];
          this.options.onResync("overflow");
          return;
        }
        this.flushTimer ??= setTimeout(() => this.flush(), this.options.flushMs);
      }
    }
  }

  private hello(serverSeq: number): void {
    if (this.lastSeq !== null && serverSeq < this.lastSeq) {
      // The server's history is behind ours: a new database. Our `since` would hide its
      // events, so start over from its seq, and refetch everything.
      this.lastSeq = serverSeq;
      this.buffer = [];
      this.options.onResync("reset");
      this.detach()?.close();
      this.connect();
      return;
    }
    // A connection that asked for `since` gets a replay of what it missed first.
    this.replayUpTo = this.lastSeq !== null ? serverSeq : -1;
    this.lastSeq ??= serverSeq;
    this.attempt = 0;
    this.setState({ status: "live", retryAt: null });
    // After a first connect, fetch what the page shows now that no event can be missed; after
    // a reconnect the replay carries the changes, but counts polled meanwhile need a refetch.
    this.options.onResync("connected");
  }

  private closed(code: number): void {
    this.detach();
    this.clearTimer("silenceTimer");
    this.flush();
    if (this.stopped) return;
    if (code === CLOSE_UNAUTHORIZED) {
      this.setState({ status: "unauthorized", retryAt: null });
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const { baseDelayMs, maxDelayMs } = this.options;
    const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
    this.attempt += 1;
    this.setState({ status: "offline", retryAt: Date.now() + delay });
    this.clearTimer("reconnectTimer");
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private armSilenceTimer(): void {
    this.clearTimer("silenceTimer");
    this.silenceTimer = setTimeout(() => {
      this.silenceTimer = null;
      const socket = this.detach();
      socket?.close();
      this.closed(1006);
    }, this.options.silenceMs);
  }

  private flush(): void {
    this.clearTimer("flushTimer");
    if (this.buffer.length === 0) return;
    const events = this.buffer;
    this.buffer = [];
    this.options.onEvents(events);
  }

  private setState(state: LiveState): void {
    this.state = state;
    this.options.onState(state);
  }

  private clearTimer(name: "flushTimer" | "reconnectTimer" | "silenceTimer"): void {
    const timer = this[name];
    if (timer !== null) clearTimeout(timer);
    this[name] = null;
  }
}
