import type { ApiError } from "../services/api";
import type { LiveStatus } from "../live/connection";

export type Problem =
  | { kind: "auth"; keyGiven: boolean }
  | { kind: "down"; message: string }
  | { kind: "unavailable"; message: string; retryAfterSec: number | null };

/** The one problem worth a banner across the page, from the errors the page's data got and
 *  the live feed's state; errors of a single panel stay in that panel. */
export function findProblem(options: {
  errors: readonly (ApiError | null)[];
  liveStatus: LiveStatus;
  apiKeyRequired: boolean;
  apiKey: string;
}): Problem | null {
  const errors = options.errors.filter((error): error is ApiError => error !== null);
  const keyGiven = options.apiKey !== "";
  if (errors.some((error) => error.isUnauthorized) || options.liveStatus === "unauthorized") {
    return { kind: "auth", keyGiven };
  }
  if (options.apiKeyRequired && !keyGiven) return { kind: "auth", keyGiven };
  const down = errors.find((error) => error.status === 0 || error.status === 502 || error.status === 504);
  if (down) return { kind: "down", message: down.message };
  const unavailable = errors.find((error) => error.status === 503);
  if (unavailable) {
    return { kind: "unavailable", message: unavailable.message, retryAfterSec: unavailable.retryAfterSec };
  }
  return null;
}

export function ProblemBanner({ problem, onEnterKey }: { problem: Problem | null; onEnterKey: () => void }) {
  return (
    <div className="banner-slot" role="alert" data-testid="problem">
      {problem?.kind === "auth" && (
        <div className="banner banner--auth">
          <strong>{problem.keyGiven ? "The API key was rejected." : "This server requires an API key."}</strong>{" "}
          {problem.keyGiven
            ? "Check the key under “API key & tenant”: the API answers 401 to it."
            : "Enter it under “API key & tenant”; it is kept in this browser."}
          <button type="button" className="button button--small" onClick={onEnterKey}>
            Enter API key
          </button>
        </div>
      )}
      {problem?.kind === "down" && (
        <div className="banner banner--down">
          <strong>{problem.message}</strong> Is <code>conveyor up</code> running? The page keeps trying and shows the
          last data it received.
        </div>
      )}
      {problem?.kind === "unavailable" && (
        <div className="banner banner--down">
          <strong>The API is up but cannot serve right now.</strong> {problem.message}
          {problem.retryAfterSec !== null && ` Trying again in about ${Math.ceil(problem.retryAfterSec)} s.`}
        </div>
      )}
    </div>
  );
}
