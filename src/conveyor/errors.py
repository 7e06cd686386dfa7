"""The exception tree, drawn once.

* ConveyorError
  x StoreError              a driver failed; the original is in __cause__
    + StoreUnavailable      the database cannot be reached right now (503)
    + IdempotencyConflict   same tenant and key, different body (409)
    + SchemaOutdated        the database's schema is older (or newer) than this library
  x JobNotFound             no job with that id (404)
  x InvalidTransition       e.g. retrying a job that is not failed (409)
  x RateLimited             carries retry_after (429)
  x InvalidPayload          a payload or result outside what the stores can hold (422)
  x InvalidSubmission       a submission its task (or the rules of submitting) refuses (422)
    + InvalidSchedule       a schedule with a bad cron expression, interval or time zone
  x ScheduleNotFound        no schedule with that name (404)
  x ScheduleExists          a schedule with that name exists already (409)
  x KeyNotFound             no API key with that id (404)
  x Forbidden               the key may not do this, or not for that tenant (403)
  x Unauthorized            a missing or wrong API key (401)
  x PermanentError          raised by a handler: straight to the DLQ, no retries
  x UnknownTask             no handler registered under that name
  x StartupError            a process cannot start (bad DATABASE_URL, port in use, …)

`conveyor.client`'s HTTP errors subclass these too (`NotFoundError` is a `JobNotFound`…), so
one `except` serves the HTTP client and the in-process producer alike.

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


class SchemaOutdated(StoreError):
    """The database's schema does not match this version of conveyor; run `conveyor migrate`
    (or start a worker or API process, which migrate)."""


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


class InvalidSubmission(ConveyorError):
    """The submission breaks a rule: its task's payload model, or `run_at` with `delay_sec`."""


class InvalidSchedule(InvalidSubmission):
    """The schedule is not valid: its cron expression, interval or time zone."""


class ScheduleNotFound(ConveyorError):
    """Schedule not found."""


class ScheduleExists(ConveyorError):
    """A schedule with this name exists already."""


class KeyNotFound(ConveyorError):
    """API key not found."""


class Forbidden(ConveyorError):
    """This API key may not do that."""


class Unauthorized(ConveyorError):
    """Missing or invalid API key."""


class PermanentError(ConveyorError):
    """The job failed in a way that retrying cannot fix."""


class UnknownTask(PermanentError):
    """No handler is registered for this task."""


class StartupError(ConveyorError):
    """The process cannot start.

    Raised by `conveyor.startup` with a one-line reason (a bad DATABASE_URL, an unreachable
    database, a port in use, a task module that does not import); the CLI prints it on
    stderr and exits 1, without a traceback: the fix is the operator's, not a bug."""
