import { formatCount } from "../format";

interface PaginationProps {
  page: number;
  pageSize: number;
  total: number;
  onPage: (page: number) => void;
  label: string;
}

/** "21–40 of 134", previous and next. Pages are 0-based here, 1-based on screen. */
export function Pagination({ page, pageSize, total, onPage, label }: PaginationProps) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const first = total === 0 ? 0 : Math.min(total, page * pageSize + 1);
  const last = Math.min(total, (page + 1) * pageSize);
  const hasPrevious = page > 0;
  const hasNext = page + 1 < pages;
  return (
    <nav className="pagination" aria-label={label}>
      <p className="pagination__range" aria-live="polite">
        {total === 0 ? "No jobs" : `${formatCount(first)}–${formatCount(last)} of ${formatCount(total)}`}
      </p>
      <div className="pagination__controls">
        <button
          type="button"
          className="button button--small"
          onClick={() => onPage(page - 1)}
          disabled={!hasPrevious}
          aria-label="Previous page"
        >
          ‹ Previous
        </button>
        <span className="pagination__page">
          Page {formatCount(page + 1)} of {formatCount(pages)}
        </span>
        <button
          type="button"
          className="button button--small"
          onClick={() => onPage(page + 1)}
          disabled={!hasNext}
          aria-label="Next page"
        >
          Next ›
        </button>
      </div>
    </nav>
  );
}
