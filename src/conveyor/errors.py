"""The exception tree, drawn once.

* ConveyorError
  x StoreError              a driver failed; the original is in __cause__
    + StoreUnavailable      the database cannot be reached right now (503)
    + IdempotencyConflict   same tenant and key, different body (409)
  x JobNotFound             no job with that id (404)
  x InvalidTransition       e.g. retrying a job that is not failed (409)
  x RateLimited             carries retry_after (429)
  x InvalidPayload          a payload or result outside what the stores can hold (422)
  x PermanentError          raised by a handler: straight to the DLQ, no retries
  x UnknownTask             no handler registered under that name

A class's docstring is its default message.
"""

from __future__ import annotations


class ConveyorError(Exception):
    """Something went wrong in conveyor."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class StoreError(ConveyorError):
    """The job store failed."""


class StoreUnavailable(StoreError):
    """The job store cannot be reached right now."""


class IdempotencyConflict(StoreError):
    """This Idempotency-Key was already used with a different request body."""


class JobNotFound(ConveyorError):
    """Job not found."""


class InvalidTransition(ConveyorError):
    """The job is not in a state that allows this."""


class RateLimited(ConveyorError):
    """Rate limit exceeded for this tenant."""

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidPayload(ConveyorError):
    """The payload is not JSON that conveyor can store (see `conveyor.payloads`)."""


class PermanentError(ConveyorError):
    """The job failed in a way that retrying cannot fix."""


class UnknownTask(PermanentError):
    """No handler is registered for this task."""
