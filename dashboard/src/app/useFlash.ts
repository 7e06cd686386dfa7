// The one-line message under the banner that says how an action went ("Submitted job …",
// "Retry of … failed"). One at a time: a new one replaces the last. It goes by itself, later
// for errors, which take longer to read and act on.

import { useCallback, useEffect, useState } from "react";

export interface Flash {
  /** The element's key: each message is a new element, which the status region reads out. */
  id: number;
  text: string;
  link?: { href: string; label: string };
  tone: "info" | "error";
}

/** Show a message (replacing the one shown). */
export type ShowFlash = (next: Omit<Flash, "id">) => void;

const SHOWN_MS: Record<Flash["tone"], number> = { info: 8000, error: 12_000 };

export function useFlash(): [Flash | null, ShowFlash, () => void] {
  const [flash, setFlash] = useState<Flash | null>(null);
  const show = useCallback((next: Omit<Flash, "id">) => setFlash({ ...next, id: Date.now() }), []);
  const dismiss = useCallback(() => setFlash(null), []);
  useEffect(() => {
    if (flash === null) return;
    const timer = setTimeout(() => setFlash(null), SHOWN_MS[flash.tone]);
    return () => clearTimeout(timer);
  }, [flash]);
  return [flash, show, dismiss];
}
