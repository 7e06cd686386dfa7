import type { ReactNode } from "react";

import type { ApiError } from "../services/api";

export function LoadingState({ label }: { label: string }) {
  return (
    <div className="state state--loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state--empty">
      <p className="state__title">{title}</p>
      {children && <p className="state__body">{children}</p>}
    </div>
  );
}

export function describeError(error: ApiError): string {
  if (error.isUnauthorized) return "The API needs a valid API key.";
  if (error.status === 0) return error.message;
  if (error.isRateLimited) {
    return error.retryAfterSec !== null ? `Rate limited; try again in ${Math.ceil(error.retryAfterSec)} s.` : "Rate limited.";
  }
  return `${error.message} (HTTP ${error.status})`;
}

export function ErrorState({ title, error, onRetry }: { title: string; error: ApiError; onRetry?: () => void }) {
  return (
    <div className="state state--error" role="alert">
      <p className="state__title">{title}</p>
      <p className="state__body">
        {describeError(error)}
        {error.traceId && <span className="muted mono"> trace {error.traceId}</span>}
      </p>
      {onRetry && (
        <button type="button" className="button button--small" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
