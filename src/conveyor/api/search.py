"""The job filter as the API takes it: query parameters for `GET /jobs` and `GET /dlq`, a
body for the bulk actions, both turned into one `JobFilter` (`conveyor.store.search`), and
who asked for an action (its `actor`, recorded in the history of every job it took)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import Depends, HTTPException, Query
from pydantic import AwareDatetime, BeforeValidator

from conveyor.api.deps import PrincipalDep, own_tenant
from conveyor.api.openapi import refuses
from conveyor.keys import Principal
from conveyor.models import JobStatus
from conveyor.payloads import find_problem
from conveyor.store.search import JobFilter, normalize_id_prefix
from conveyor.wire import (
    ID_PREFIX_PATTERN,
    NAME_PATTERN,
    SEARCH_TEXT_MAX,
    BulkFilterIn,
    in_utc,
)

Name = Annotated[str | None, Query(pattern=NAME_PATTERN)]
Text = Annotated[str | None, Query(min_length=1, max_length=SEARCH_TEXT_MAX)]
RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)")


def _rfc3339(value: object) -> object:
    """Only RFC 3339 text (a query parameter is text, and pydantic would also read a number
    as a Unix time)."""
    if isinstance(value, str) and not RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with an offset")
    return value


Moment = Annotated[AwareDatetime | None, BeforeValidator(_rfc3339), Query(
    description="RFC 3339 with an offset; `_after` is inclusive, `_before` exclusive.")]
Cursor = Annotated[UUID | None, Query(
    description="The previous page's `next_cursor`: the next (older) page. Fast at any "
    "depth, and stable while jobs are added (unlike `offset`).")]


def actor(principal: Principal) -> str:
    """Who asked: `key:<id>` for a stored key, `admin` for API_KEY (or with auth off)."""
    return f"key:{principal.key_id}" if principal.key_id else "admin"


# A query parameter its schema refuses is a 400 (`api/errors.py`); one the schema cannot
# refuse (a NUL in a text, a time with no UTC equivalent) is a 422, like a body's.


def _text(name: str, value: str | None) -> str | None:
    problem = None if value is None else find_problem(value)
    if problem is not None:
        raise HTTPException(422, f"{name}{problem}")
    return value


def _prefix(value: str | None) -> str | None:
    # The parameter's pattern refuses what `normalize_id_prefix` would: it cannot fail here.
    return None if value is None else normalize_id_prefix(value)


def _moment(name: str, value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        return in_utc(value)
    except ValueError as exc:
        raise HTTPException(422, f"{name} {exc}") from None


@refuses("a tenant's key cannot name another tenant in `tenant`")
async def listing_filter(
    principal: PrincipalDep,
    tenant: Annotated[str | None, Query(
        pattern=NAME_PATTERN, description="Only this tenant's (a tenant's key: its own, "
        "always).")] = None,
    queue: Name = None,
    task: Name = None,
    trace_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    id_prefix: Annotated[str | None, Query(
        pattern=ID_PREFIX_PATTERN, description="The first hex digits of the job id.")] = None,
    error: Annotated[str | None, Query(
        min_length=1, max_length=SEARCH_TEXT_MAX,
        description="A case-sensitive substring of `last_error`.")] = None,
    payload: Annotated[str | None, Query(
        min_length=1, max_length=SEARCH_TEXT_MAX,
        description="A case-sensitive substring of the payload's JSON text (search for a "
        "value: key order and spacing are the store's).")] = None,
    created_after: Moment = None,
    created_before: Moment = None,
    finished_after: Moment = None,
    finished_before: Moment = None,
) -> JobFilter:
    """Every filter of a list but its status, checked (4xx, never a 500 from the store)."""
    return JobFilter(
        tenant=own_tenant(principal, tenant), queue=queue, task=task,
        trace_id=_text("trace_id", trace_id), id_prefix=_prefix(id_prefix),
        error=_text("error", error), payload=_text("payload", payload),
        created_after=_moment("created_after", created_after),
        created_before=_moment("created_before", created_before),
        finished_after=_moment("finished_after", finished_after),
        finished_before=_moment("finished_before", finished_before))


ListingFilter = Annotated[JobFilter, Depends(listing_filter)]
LISTING_REFUSAL = "A search text holds a character the store cannot keep (NUL, a lone "\
    "surrogate), or a time has no UTC equivalent."


def bulk_filter(body: BulkFilterIn, principal: Principal,
                status: JobStatus | None = None) -> JobFilter:
    """A bulk action's body as a filter; a tenant's key acts on its own tenant only."""
    return JobFilter(
        status=status, tenant=own_tenant(principal, body.tenant), queue=body.queue,
        task=body.task, trace_id=body.trace_id, id_prefix=_prefix(body.id_prefix),
        error=body.error, payload=body.payload, created_after=body.created_after,
        created_before=body.created_before,
        ids=None if body.ids is None else frozenset(body.ids))
