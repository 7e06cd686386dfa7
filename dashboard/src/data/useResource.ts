import { useEffect, useEffectEvent, useState, useSyncExternalStore } from "react";

import { Resource, type ResourceState } from "./resource";

const EMPTY: ResourceState<never> = { data: null, error: null, loading: true };
const IDLE: ResourceState<never> = { data: null, error: null, loading: false };
const noSubscription = () => () => {};

interface Keyed<T> {
  key: string;
  resource: Resource<T>;
}

/** The Resource named `key` (null: none), fetched once when the key appears. The fetch function
 *  may change on every render; the latest one is used. */
export function useResource<T>(
  key: string | null,
  fetch: (signal: AbortSignal) => Promise<T>,
  currentSeq: () => number,
  minIntervalMs = 1000,
): [ResourceState<T>, Resource<T> | null] {
  // Effect Events: the resource lives across renders, and each of its fetches calls the latest
  // render's function (which holds the latest credentials), without making a new resource.
  const latestFetch = useEffectEvent(fetch);
  const latestSeq = useEffectEvent(currentSeq);
  const [keyed, setKeyed] = useState<Keyed<T> | null>(null);

  useEffect(() => {
    if (key === null) return;
    const resource = new Resource<T>({
      fetch: (signal) => latestFetch(signal),
      currentSeq: () => latestSeq(),
      minIntervalMs,
    });
    // The resource holds timers and a fetch, so it is made here rather than during render
    // (StrictMode runs effects twice; renders may be thrown away). Showing it takes this one
    // more render, which the check below accounts for.
    // eslint-disable-next-line react-hooks/set-state-in-effect -- publishing what the effect made
    setKeyed({ key, resource });
    resource.refetchNow();
    return () => {
      resource.dispose();
      // Let go of it, so a key that comes back later does not show it for a render.
      setKeyed((current) => (current?.resource === resource ? null : current));
    };
  }, [key, minIntervalMs]);

  // For the one render between a key change and its effect, the old resource is not shown.
  const current = keyed !== null && keyed.key === key ? keyed.resource : null;
  const state = useSyncExternalStore(
    current?.subscribe ?? noSubscription,
    current?.getState ?? (() => (key === null ? IDLE : EMPTY)),
  );
  return [state, current];
}
