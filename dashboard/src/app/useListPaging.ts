// Where in a list the user is, by keyset: page 1 has no cursor, "Older" goes to the page that
// starts at the shown page's `next_cursor`, and the cursors passed are kept in a stack so
// "Newer" goes back exactly the way it came. A cursor page does not shift while jobs are
// added (it holds the jobs older than its cursor); page 1 shows the newest.
//
// The stack belongs to one list (a view and a filter): another list starts at page 1. Opening a
// job and coming back keeps it (a job's page shows no list), so "Back to …" returns to the page
// the job was on.

import { useCallback, useState } from "react";

export interface ListPaging {
  /** Where the page shown starts (null: the first page). */
  cursor: string | null;
  /** 0-based: how many "Older" steps from the first page. */
  index: number;
  /** Go to the next older page, which starts at `nextCursor`. */
  older: (nextCursor: string) => void;
  /** Back one page towards the newest. */
  newer: () => void;
  /** Back to the first page. */
  first: () => void;
}

interface Stack {
  key: string | null;
  cursors: readonly string[];
}

/** `listKey`: the list shown (null: none, e.g. a job's page: the stack is kept). */
export function useListPaging(listKey: string | null): ListPaging {
  const [stack, setStack] = useState<Stack>({ key: listKey, cursors: [] });
  // Another list: start at its first page (adjusting state while rendering, so no render shows
  // the old cursor with the new list).
  let current = stack;
  if (listKey !== null && stack.key !== listKey) {
    current = { key: listKey, cursors: [] };
    setStack(current);
  }

  const older = useCallback((nextCursor: string) => {
    setStack((previous) => ({ ...previous, cursors: [...previous.cursors, nextCursor] }));
  }, []);
  const newer = useCallback(() => {
    setStack((previous) => ({ ...previous, cursors: previous.cursors.slice(0, -1) }));
  }, []);
  const first = useCallback(() => {
    setStack((previous) => (previous.cursors.length === 0 ? previous : { ...previous, cursors: [] }));
  }, []);

  return {
    cursor: current.cursors[current.cursors.length - 1] ?? null,
    index: current.cursors.length,
    older,
    newer,
    first,
  };
}
