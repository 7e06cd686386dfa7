import { useNow } from "../hooks";
import type { LiveState } from "../live/connection";

export function LiveIndicator({ state, onReconnect }: { state: LiveState; onReconnect: () => void }) {
  const ticking = state.status === "offline" && state.retryAt !== null;
  const now = useNow(ticking ? 1000 : 60_000);
  const label =
    state.status === "live"
      ? "Live"
      : state.status === "connecting"
        ? "Connecting…"
        : state.status === "unauthorized"
          ? "Not live: API key needed"
          : "Offline";
  const seconds = ticking && state.retryAt !== null ? Math.max(0, Math.ceil((state.retryAt - now) / 1000)) : null;
  return (
    <div className={`live live--${state.status}`} data-testid="live-indicator" data-live-status={state.status}>
      <span className="live__dot" aria-hidden="true">
        {state.status === "live" ? "●" : "○"}
      </span>{" "}
      <span role="status" className="live__label">
        {label}
      </span>
      {state.status === "offline" && (
        <>
          <span className="live__retry" aria-hidden="true">
            {seconds !== null && seconds > 0 ? `retry in ${seconds} s` : "retrying…"}
          </span>
          <button type="button" className="link-button live__now" onClick={onReconnect}>
            Reconnect now
          </button>
        </>
      )}
    </div>
  );
}
