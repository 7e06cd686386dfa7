// The loop every bulk action runs (a redrive, a bulk cancel): the API does at most `limit` jobs
// a call and says how many still match, so the caller calls again until none remain. The loop
// holds to the jobs that matched when it began: from the first answer on, it sends that
// answer's `as_of` as the bound the action names (`failed_before` for a redrive: copies that
// fail again at once would match again; `created_before` for a cancel: jobs submitted after
// the bulk started are not taken). It ends when none remain, when the caller stops it (between
// calls), or when a call changed nothing though jobs remain (a loop that would never end).
// Plain code, outside React, so it is tested directly.

/** One call's answer, in the terms every bulk action shares. */
export interface LoopAnswer {
  /** Jobs matching when the call started. */
  matched: number;
  /** Jobs this call acted on (redriven; cancelled or asked to stop). */
  changed: number;
  /** Matching jobs still left after this call. */
  remaining: number;
  /** The store's time when the call began, as the API wrote it (null: an older API). */
  asOf: string | null;
  /** Matching jobs this call could not act on, with the reason. */
  skipped: { id: string; reason: string }[];
}

/** How far a bulk action is: `done` of (at least) `total` jobs; `total` grows if jobs that
 *  match appear while it runs. */
export interface LoopProgress {
  done: number;
  total: number;
}

export interface LoopOutcome extends LoopProgress {
  /** None left, the caller stopped it, or the API changed nothing though jobs remained. */
  end: "finished" | "stopped" | "stuck";
  /** Each job the API could not act on, once, with its reason. */
  skipped: { id: string; reason: string }[];
}

export interface LoopOptions<A extends LoopAnswer> {
  /** After each call, with that call's answer. */
  onProgress: (progress: LoopProgress, answer: A) => void;
  /** Checked between calls: true stops the loop (the call in flight completes). */
  stopped?: () => boolean;
}

/** The earlier of the caller's own bound and the first answer's `as_of`: the loop keeps to the
 *  jobs that matched when it began, and never widens what the user asked for. The API's text
 *  is sent as it came (a Date would drop its microseconds). */
export function loopBound(own: string | undefined, asOf: string): string {
  if (own === undefined) return asOf;
  return Date.parse(own) <= Date.parse(asOf) ? own : asOf;
}

/** Call `call` with `body` until nothing matching remains; `bound` names the field that holds
 *  the loop to the first answer's `as_of`. An error rejects after the calls that succeeded
 *  (their jobs are done: progress said so). */
export async function loopUntilDone<B extends object, A extends LoopAnswer>(
  body: B,
  bound: keyof B & string,
  call: (body: B) => Promise<A>,
  { onProgress, stopped = () => false }: LoopOptions<A>,
): Promise<LoopOutcome> {
  const request = { ...body } as Record<string, unknown>;
  let done = 0;
  let total = 0;
  // Skipped jobs still match, so each call meets them again: kept once each.
  const skipped = new Map<string, string>();
  const outcome = (end: LoopOutcome["end"]): LoopOutcome => ({
    done,
    total,
    end,
    skipped: Array.from(skipped, ([id, reason]) => ({ id, reason })),
  });
  let bounded = false;
  for (;;) {
    const answer = await call(request as B);
    if (!bounded && answer.asOf !== null) {
      const own = request[bound];
      request[bound] = loopBound(typeof own === "string" ? own : undefined, answer.asOf);
      bounded = true;
    }
    done += answer.changed;
    total = Math.max(total, done + answer.remaining);
    for (const job of answer.skipped) skipped.set(job.id, job.reason);
    onProgress({ done, total }, answer);
    if (answer.remaining === 0) return outcome("finished");
    if (answer.changed === 0) return outcome("stuck");
    if (stopped()) return outcome("stopped");
  }
}
