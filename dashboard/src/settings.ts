// The API key and tenant, kept in this browser's local storage (SEED.md: optional fields).

import { useCallback, useState } from "react";

import type { Credentials } from "./services/api";

const KEYS = { apiKey: "conveyor.apiKey", tenant: "conveyor.tenant" } as const;

function read(storage: Storage | null, key: string): string {
  try {
    return storage?.getItem(key) ?? "";
  } catch {
    return ""; // storage disabled (private mode, policy): the fields still work for this visit
  }
}

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

export function loadCredentials(): Credentials {
  const store = storage();
  return { apiKey: read(store, KEYS.apiKey), tenant: read(store, KEYS.tenant) };
}

export function saveCredentials(credentials: Credentials): void {
  const store = storage();
  try {
    for (const field of ["apiKey", "tenant"] as const) {
      const value = credentials[field].trim();
      if (value === "") store?.removeItem(KEYS[field]);
      else store?.setItem(KEYS[field], value);
    }
  } catch {
    // Not persisted; the values still apply until the page is closed.
  }
}

export function useCredentials(): [Credentials, (credentials: Credentials) => void] {
  const [credentials, setCredentials] = useState(loadCredentials);
  const save = useCallback((next: Credentials) => {
    const trimmed = { apiKey: next.apiKey.trim(), tenant: next.tenant.trim() };
    saveCredentials(trimmed);
    setCredentials(trimmed);
  }, []);
  return [credentials, save];
}
