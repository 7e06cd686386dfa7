import { formatCount } from "../format";
import { formatTotal } from "../services/search";

interface PaginationProps {
  /** 0-based: how many pages from the newest. */
  index: number;
  pageSize: number;
  /** Rows on the page shown. */
  shown: number;
  /** Exact when `exact`; else at least this many match ("10,000+"). */
  total: number;
  exact: boolean;
  /** An older page exists (the API gave a cursor to it). */
  hasOlder: boolean;
  onNewer: () => void;
  onOlder: () => void;
  onFirst: () => void;
  label: string;
}

/** Keyset paging, newest first: "21–40 of 134" (or "of 10,000+"), Newer and Older, and a way
 *  back to the newest page from deep in a list. */
export function Pagination({ index, pageSize, shown, total, exact, hasOlder, onNewer, onOlder, onFirst, label }: PaginationProps) {
  const first = index * pageSize + 1;
  const last = index * pageSize + shown;
  const totalText = formatTotal(total, exact);
  return (
    <nav className="pagination" aria-label={label}>
      <p
        className="pagination__range"
        aria-live="polite"
        data-testid="list-range"
        title={exact ? undefined : `At least ${formatCount(total)} jobs match: the count stops there.`}
      >
        {shown === 0 ? `No jobs here (${totalText} in all)` : `${formatCount(first)}–${formatCount(last)} of ${totalText}`}
      </p>
      <div className="pagination__controls">
        {index > 1 && (
          <button type="button" className="button button--small button--ghost" onClick={onFirst}>
            « Newest
          </button>
        )}
        <button
          type="button"
          className="button button--small"
          onClick={onNewer}
          disabled={index === 0}
          aria-label="Newer page"
        >
          ‹ Newer
        </button>
        <span className="pagination__page">Page {formatCount(index + 1)}</span>
        <button type="button" className="button button--small" onClick={onOlder} disabled={!hasOlder} aria-label="Older page">
          Older ›
        </button>
      </div>
    </nav>
  );
}
