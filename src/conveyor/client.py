"""`conveyor.Client` and `conveyor.AsyncClient`: typed clients for the REST API.

    from conveyor import Client
    with Client("http://127.0.0.1:8000", api_key=None, tenant="acme") as client:
        job = client.enqueue("send_email", {"to": "a@example.com"}, idempotency_key="mail-42")
        done = client.wait(job.id, timeout=30)      # done, failed or cancelled; .result

    from conveyor import AsyncClient
    async with AsyncClient("http://127.0.0.1:8000") as client:
        jobs = await client.enqueue_many([JobSpec("resize", {"id": 1}), JobSpec("resize", …)])

Errors are `ClientError`s typed by status, each also the matching `conveyor.errors` class
(`NotFoundError` is a `JobNotFound`, `RateLimitedError` a `RateLimited` with `retry_after`…):
see `conveyor.clients.errors`. The parts live in `conveyor.clients`; this module is where to
import them from.
"""

from __future__ import annotations

from conveyor.clients.asynchronous import AsyncClient
from conveyor.clients.errors import (
    ClientError,
    ConflictError,
    IdempotencyConflictError,
    InvalidPayloadError,
    InvalidRequestError,
    InvalidTransitionError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)
from conveyor.clients.sync import Client

__all__ = [
    "AsyncClient",
    "Client",
    "ClientError",
    "ConflictError",
    "IdempotencyConflictError",
    "InvalidPayloadError",
    "InvalidRequestError",
    "InvalidTransitionError",
    "NotFoundError",
    "RateLimitedError",
    "UnauthorizedError",
    "UnavailableError",
]
