// A WebSocket stand-in the test drives from the server's side.

import type { SocketLike } from "../live/connection";

export class FakeSocket implements SocketLike {
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  closed = false;

  constructor(readonly url: string) {}

  /** The server sends a JSON message. */
  send(message: unknown): void {
    this.onmessage?.({ data: JSON.stringify(message) } as MessageEvent);
  }

  /** The server (or the network) closes the connection. */
  drop(code = 1006): void {
    this.closed = true;
    this.onclose?.({ code } as CloseEvent);
  }

  close(): void {
    this.closed = true;
  }

  get since(): string | null {
    return new URL(this.url, "http://localhost").searchParams.get("since");
  }
}

export class FakeSockets {
  readonly all: FakeSocket[] = [];

  readonly create = (url: string): FakeSocket => {
    const socket = new FakeSocket(url);
    this.all.push(socket);
    return socket;
  };

  get last(): FakeSocket {
    const socket = this.all[this.all.length - 1];
    if (!socket) throw new Error("no socket was opened");
    return socket;
  }
}
