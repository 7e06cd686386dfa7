// Queues in the API's wire shape, with overrides.

import type { QueueWire } from "../../services/queues";

export function buildQueueWire(overrides: Partial<QueueWire> = {}): QueueWire {
  return {
    name: "default",
    paused: false,
    paused_at: null,
    pending: 0,
    scheduled: 0,
    running: 0,
    oldest_pending_age_sec: null,
    done_last_minute: 0,
    failed_last_minute: 0,
    ...overrides,
  };
}
