"""The HTTP clients' errors: one class per answer a caller handles differently.

Every one is a `ClientError` (with the answer's `status`, `code` and `message`), and also the
domain error the same failure raises in-process (`conveyor.errors`), so code written against
the producer API (`conveyor.Queue`) catches the HTTP client's errors unchanged:

    except JobNotFound:            # NotFoundError: a 404 from the API, or the store's own
    except RateLimited as exc:     # RateLimitedError: exc.retry_after in both

| status | class | also a |
|---|---|---|
| 401 | `UnauthorizedError` | `Unauthorized` |
| 404 | `NotFoundError` | `JobNotFound` |
| 409 | `IdempotencyConflictError` (submitting) | `IdempotencyConflict` |
| 409 | `InvalidTransitionError` (cancel, retry) | `InvalidTransition` |
| 422 | `InvalidPayloadError` (code `invalid_payload`) | `InvalidPayload` |
| 422 | `InvalidRequestError` (any other 422) | `InvalidSubmission` |
| 429 | `RateLimitedError` | `RateLimited` |
| 503 | `UnavailableError` | `StoreUnavailable` |

Anything else (400, 413, 500…) is a plain `ClientError`. Transport failures (connection
refused, timeouts) stay httpx's own exceptions: the API never answered.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any, Literal

from conveyor.errors import (
    ConveyorError,
    IdempotencyConflict,
    InvalidPayload,
    InvalidSubmission,
    InvalidTransition,
    JobNotFound,
    RateLimited,
    StoreUnavailable,
    Unauthorized,
)

Operation = Literal["submit", "read", "change"]
"""What a call does, for the answers whose meaning depends on it: a 409 to a submission is an
Idempotency-Key conflict, to a cancel or a retry a state conflict."""


class ClientError(ConveyorError):
    """The API answered with an error: `status`, `code` and `message` are the answer's, and
    `retry_after` its seconds to wait (429 and 503), if it gave any."""

    retry_after: float | None

    def __init__(self, status: int, code: str, message: str,
                 retry_after: float | None = None) -> None:
        # Not super().__init__: the domain errors mixed in below take other arguments
        # (RateLimited's retry_after first); the message is all ConveyorError keeps.
        ConveyorError.__init__(self, f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.detail = message
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        """The API's message alone, as the matching domain error's `message` is."""
        return self.detail


class UnauthorizedError(ClientError, Unauthorized):
    """401: the API needs `X-API-Key` (`Client(api_key=…)`), or this one is wrong."""


class NotFoundError(ClientError, JobNotFound):
    """404: no job with that id."""


class ConflictError(ClientError):
    """409, either kind."""


class IdempotencyConflictError(ConflictError, IdempotencyConflict):
    """409 to a submission: its Idempotency-Key was used with another body."""


class InvalidTransitionError(ConflictError, InvalidTransition):
    """409 to a cancel or a retry: the job is not in a state that allows it."""


class InvalidPayloadError(ClientError, InvalidPayload):
    """422 `invalid_payload`: a payload no store can keep (`conveyor.payloads`)."""


class InvalidRequestError(ClientError, InvalidSubmission):
    """Any other 422: the body breaks the API's rules or the task's payload model."""


class RateLimitedError(ClientError, RateLimited):
    """429: the tenant's RATE_LIMIT_PER_MINUTE is spent; `retry_after` says for how long."""

    retry_after: float


class UnavailableError(ClientError, StoreUnavailable):
    """503: the API cannot reach its store; `retry_after` says when to try again."""


_BY_STATUS: dict[int, type[ClientError]] = {
    401: UnauthorizedError,
    404: NotFoundError,
    429: RateLimitedError,
    503: UnavailableError,
}
_BY_CODE: dict[str, type[ClientError]] = {
    "idempotency_conflict": IdempotencyConflictError,
    "invalid_transition": InvalidTransitionError,
    "invalid_payload": InvalidPayloadError,
}


def _seconds(value: object) -> float | None:
    """A `Retry-After` in seconds (the API never sends the HTTP-date form)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _error_class(operation: Operation, status: int, code: str) -> type[ClientError]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status in (409, 422) and code in _BY_CODE:
        return _BY_CODE[code]
    if status == 409:
        return IdempotencyConflictError if operation == "submit" else InvalidTransitionError
    if status == 422:
        return InvalidRequestError
    return ClientError


def error_for(operation: Operation, status: int, headers: Mapping[str, str],
              content: bytes) -> ClientError:
    """The exception for an error answer: `{"error": {"code", "message", "retry_after"?}}`
    as the API sends it, or whatever a proxy in between sent (its first 200 characters)."""
    error: Any = None
    with contextlib.suppress(ValueError, AttributeError):  # not JSON, or not an object
        error = json.loads(content).get("error")
    if not isinstance(error, dict):
        error = {"code": "error", "message": content.decode("utf-8", "replace")[:200]}
    code = str(error.get("code") or "error")
    message = str(error.get("message") or "")
    retry_after = _seconds(error.get("retry_after"))
    if retry_after is None:
        retry_after = _seconds(headers.get("retry-after"))
    cls = _error_class(operation, status, code)
    if cls is RateLimitedError and retry_after is None:
        retry_after = 1.0  # a 429 always means "later"; the API itself always says when
    return cls(status, code, message, retry_after)
