import { useEffect, useRef, useState, useSyncExternalStore } from "react";

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
  const fetchRef = useRef(fetch);
  fetchRef.current = fetch;
  const seqRef = useRef(currentSeq);
  seqRef.current = currentSeq;
  const [keyed, setKeyed] = useState<Keyed<T> | null>(null);

  useEffect(() => {
    if (key === null) {
      setKeyed(null);
      return;
    }
    const resource = new Resource<T>({
      fetch: (signal) => fetchRef.current(signal),
      currentSeq: () => seqRef.current(),
      minIntervalMs,
    });
    setKeyed({ key, resource });
    resource.refetchNow();
    return () => resource.dispose();
  }, [key, minIntervalMs]);

  // For the one render between a key change and its effect, the old resource is not shown.
  const current = keyed !== null && keyed.key === key ? keyed.resource : null;
  const state = useSyncExternalStore(
    current?.subscribe ?? noSubscription,
    current?.getState ?? (() => (key === null ? IDLE : EMPTY)),
  );
  return [state as ResourceState<T>, current];
}
