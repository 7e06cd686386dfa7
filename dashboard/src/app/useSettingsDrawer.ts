// The "API key & tenant" drawer under the top bar: the user opens and closes it, and it opens by
// itself when an auth problem appears (from the start, on a server that needs a key this
// browser does not have), since the key field is then what the page needs.

import { useCallback, useState } from "react";

export interface SettingsDrawer {
  open: boolean;
  toggle: () => void;
  /** Open it with the cursor in the key field (the banner's "Enter API key"). */
  enterKey: () => void;
  /** Counts the requests to focus the key field; SettingsPanel focuses it on each change. */
  focusKey: number;
}

export function useSettingsDrawer(authProblem: boolean): SettingsDrawer {
  const [open, setOpen] = useState(authProblem);
  const [focusKey, setFocusKey] = useState(0);

  // Opened when the problem appears, not held open while it lasts: the user may close it.
  // Adjusted during render, in the render that sees the problem, rather than by an effect.
  const [hadAuthProblem, setHadAuthProblem] = useState(authProblem);
  if (authProblem !== hadAuthProblem) {
    setHadAuthProblem(authProblem);
    if (authProblem) setOpen(true);
  }

  const toggle = useCallback(() => setOpen((current) => !current), []);
  const enterKey = useCallback(() => {
    setOpen(true);
    setFocusKey((count) => count + 1);
  }, []);
  return { open, toggle, enterKey, focusKey };
}
