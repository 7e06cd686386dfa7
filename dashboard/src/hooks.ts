import { useEffect, useRef, useState } from "react";

/** Call `callback` every `ms` while `ms` is not null. */
export function useInterval(callback: () => void, ms: number | null): void {
  const saved = useRef(callback);
  saved.current = callback;
  useEffect(() => {
    if (ms === null) return;
    const id = setInterval(() => saved.current(), ms);
    return () => clearInterval(id);
  }, [ms]);
}

/** The current time, updated every `ms` (for "12 s ago" and running durations). */
export function useNow(ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useInterval(() => setNow(Date.now()), ms);
  return now;
}
