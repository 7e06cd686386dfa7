// Which things (jobs by id, queues by name) have a request of one kind in flight, for buttons
// that say so and do not send it twice.

import { useCallback, useRef, useState } from "react";

/** The keys with a request in flight, and a way to start and end one. The ref is what `begin`
 *  reads: a second click that comes before React has re-rendered with the state must not send
 *  a second request. */
export function useInFlight(): [ReadonlySet<string>, (key: string) => boolean, (key: string) => void] {
  const keys = useRef(new Set<string>());
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  const begin = useCallback((key: string) => {
    if (keys.current.has(key)) return false;
    keys.current.add(key);
    setBusy((current) => new Set(current).add(key));
    return true;
  }, []);
  const end = useCallback((key: string) => {
    keys.current.delete(key);
    setBusy((current) => {
      const next = new Set(current);
      next.delete(key);
      return next;
    });
  }, []);
  return [busy, begin, end];
}
