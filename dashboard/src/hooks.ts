import { useEffect, useEffectEvent, useState } from "react";

/** Call `callback` every `ms` while `ms` is not null. */
export function useInterval(callback: () => void, ms: number | null): void {
  // An Effect Event: each tick calls the latest callback, and a new callback (every render
  // makes one) does not restart the timer.
  const tick = useEffectEvent(callback);
  useEffect(() => {
    if (ms === null) return;
    const id = setInterval(() => tick(), ms);
    return () => clearInterval(id);
  }, [ms]);
}

/** The current time, updated every `ms` (for "12 s ago" and running durations). */
export function useNow(ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useInterval(() => setNow(Date.now()), ms);
  return now;
}
