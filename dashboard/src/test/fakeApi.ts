// A stand-in for the API behind `fetch`: routes by method and path, records every request.

import { vi } from "vitest";

export interface Recorded {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

type Handler = (request: Recorded) => Response | Promise<Response>;

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

export function apiError(status: number, code: string, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  return json({ error: { code, message, trace_id: "trace-1", ...extra } }, status, headers);
}

export class FakeApi {
  readonly requests: Recorded[] = [];
  private readonly routes: { method: string; pattern: RegExp; handler: Handler }[] = [];
  /** When set, every request fails as if the API were down. */
  down = false;

  on(method: string, pattern: RegExp, handler: Handler): this {
    this.routes.unshift({ method, pattern, handler });
    return this;
  }

  readonly fetch = vi.fn(async (input: string, init: RequestInit = {}): Promise<Response> => {
    const method = init.method ?? "GET";
    const headers = { ...(init.headers as Record<string, string> | undefined) };
    const request: Recorded = {
      method,
      path: input,
      headers,
      body: typeof init.body === "string" ? JSON.parse(init.body) : undefined,
    };
    this.requests.push(request);
    if (this.down) throw new TypeError("Failed to fetch");
    const route = this.routes.find((candidate) => candidate.method === method && candidate.pattern.test(input));
    if (!route) return json({ error: { code: "not_found", message: `no fake for ${method} ${input}` } }, 404);
    return route.handler(request);
  });

  calls(method: string, pattern: RegExp): Recorded[] {
    return this.requests.filter((request) => request.method === method && pattern.test(request.path));
  }
}
