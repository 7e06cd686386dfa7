"""How a job filter becomes a search: the conditions, the slices of the table each query
reads, and the counting cap, written once for both drivers (each renders them into its SQL).

A million finished jobs must not make a filtered page slow, and the hot path (submit,
lease, finish) must not pay for search. So the search indexes (migration 0012) hold only
finished rows (`finished_at IS NOT NULL`): a row enters them once, when it finishes, instead
of on each of its live updates. A search is therefore split into parts, one query per slice
of the table, each through the indexes that cover it: the pending rows and the running rows
(through the live indexes; there are few of them in a healthy system) and the finished rows
(through the search indexes). The parts' pages are merged, newest first.

Totals: an unfiltered list (or a status alone) is counted by the status counters, exactly
and for free; any other filter counts its matches up to `TOTAL_CAP` and says "at least" past
it, so a count never reads a million rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from conveyor.lifecycle import TERMINAL_STATUSES, JobStatus
from conveyor.models import JobId

TOTAL_CAP = 10_000
"""A filtered count stops here: past it, a list's total is a lower bound (`total_exact`
false) and the dashboard shows "10,000+"."""

CREATED_SLACK = timedelta(minutes=10)
"""How far a job's id (UUIDv7, made from the submitting process's clock) may be from its
`created_at` (the database's clock). A created range is applied to `created_at` exactly, and
to the id (the primary key, so a range there is an index range) widened by this much."""

PROBE_ROWS = 2_000
"""A text test (`error`, `payload`) is first tried on this many of the newest finished rows,
to tell a common substring from a rare one. A text index pays per match, so it answers a
rare substring at once and a common one slowly (it must find every match before the newest
twenty); reading the newest rows in order finds a page of a common one at once."""

COMMON_IN_PROBE = 4
"""At least this many matches among the probe's rows (0.2 %): the substring is common, and
the search reads rows newest first, testing each (the text is then `scanned`)."""

COUNT_WINDOW = 5_000
"""A search with a scanned text test counts its matches among this many of each part's
newest rows only (a lower bound, unless the part holds fewer rows): counting every match
of a common substring would read the whole history."""

Column = Literal["tenant", "queue", "task", "trace_id", "id", "created_at", "finished_at",
                 "last_error", "payload"]
Op = Literal["=", ">=", "<", "<=", ">", "contains", "in"]


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Which jobs a list, a count or a bulk action takes: every field given must match (None:
    any). `error` and `payload` are case-sensitive substrings (of `last_error`, and of the
    payload's JSON text; no patterns, the same on both drivers). Each `_after` is inclusive
    and each `_before` exclusive. `id_prefix`: the first hex digits of the id (dashes left
    out). `ids`: only these jobs (a selection)."""

    status: JobStatus | None = None
    tenant: str | None = None
    queue: str | None = None
    task: str | None = None
    trace_id: str | None = None
    id_prefix: str | None = None
    error: str | None = None
    payload: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    finished_after: datetime | None = None
    finished_before: datetime | None = None
    ids: frozenset[JobId] | None = None

    @property
    def narrowed(self) -> bool:
        """Whether anything but the status narrows it (then a total must be counted)."""
        return any(getattr(self, f.name) is not None for f in fields(self) if f.name != "status")

    def describe(self) -> dict[str, object]:
        """The fields given, times in ISO 8601, a selection as its size: what each job a bulk
        action took records in its history, so it says which action took it."""
        described: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, datetime):
                described[f.name] = value.isoformat()
            elif isinstance(value, frozenset):
                described[f.name] = len(value)  # a count: a thousand ids in every event is noise
            else:
                described[f.name] = str(value)
        return described


@dataclass(frozen=True, slots=True)
class Condition:
    """One test a row must pass; each driver renders it (`contains` by its text index)."""

    column: Column
    op: Op
    value: object


@dataclass(frozen=True, slots=True)
class Part:
    """A slice of the jobs table that one query of a search reads: the jobs in one live
    status, or the finished ones (`status` None: any finished status), which the search
    indexes cover."""

    status: JobStatus | None
    finished: bool


LIVE_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING)


def parts(status: JobStatus | None, statuses: Sequence[JobStatus] | None = None) -> list[Part]:
    """The slices a filter on `status` reads (`statuses`: only those may match at all, as a
    bulk cancel takes live jobs only)."""
    allowed = list(JobStatus) if statuses is None else list(statuses)
    if status is not None:
        return [Part(status, status in TERMINAL_STATUSES)] if status in allowed else []
    found = [Part(live, False) for live in LIVE_STATUSES if live in allowed]
    finished = [each for each in allowed if each in TERMINAL_STATUSES]
    if len(finished) == len(TERMINAL_STATUSES):
        found.append(Part(None, True))
    else:
        found += [Part(each, True) for each in finished]
    return found


def normalize_id_prefix(prefix: str) -> str:
    """The hex digits of an id prefix, lower case, dashes dropped (raises ValueError when
    it holds anything else or more than an id's 32 digits)."""
    digits = prefix.replace("-", "").lower()
    if not 0 < len(digits) <= 32 or any(c not in "0123456789abcdef" for c in digits):
        raise ValueError("an id prefix is 1 to 32 hex digits (dashes allowed)")
    return digits


_MAX_MILLIS = (1 << 48) - 1


def uuid7_floor(moment: datetime, shift: timedelta = timedelta(0)) -> UUID:
    """The smallest UUIDv7 of the millisecond `moment + shift` (kept within the 48 bits of
    a UUIDv7's time, so no moment overflows): ids at or after it sort at or after."""
    millis = int(moment.timestamp() * 1000) + int(shift / timedelta(milliseconds=1))
    return UUID(int=min(max(0, millis), _MAX_MILLIS) << 80)


def conditions(filter: JobFilter) -> list[Condition]:
    """Every test of `filter` but its status (each part tests that)."""
    found: list[Condition] = []
    for column in ("tenant", "queue", "task", "trace_id"):
        value = getattr(filter, column)
        if value is not None:
            found.append(Condition(column, "=", value))
    if filter.id_prefix is not None:
        digits = normalize_id_prefix(filter.id_prefix)
        found += [Condition("id", ">=", UUID(digits.ljust(32, "0"))),
                  Condition("id", "<=", UUID(digits.ljust(32, "f")))]
    if filter.created_after is not None:
        found += [Condition("id", ">=", uuid7_floor(filter.created_after, -CREATED_SLACK)),
                  Condition("created_at", ">=", filter.created_after)]
    if filter.created_before is not None:
        found += [Condition("id", "<", uuid7_floor(filter.created_before, CREATED_SLACK)),
                  Condition("created_at", "<", filter.created_before)]
    if filter.finished_after is not None:
        found.append(Condition("finished_at", ">=", filter.finished_after))
    if filter.finished_before is not None:
        # A job finishes after it is created: the same bound on its id is an index range.
        found += [Condition("finished_at", "<", filter.finished_before),
                  Condition("id", "<", uuid7_floor(filter.finished_before, CREATED_SLACK))]
    if filter.error is not None:
        found.append(Condition("last_error", "contains", filter.error))
    if filter.payload is not None:
        found.append(Condition("payload", "contains", filter.payload))
    if filter.ids is not None:
        found.append(Condition("id", "in", tuple(sorted(filter.ids))))  # hashable
    return found


INDEX_PIECE = 10
"""A text longer than this is looked up in the trigram index by its rarest-looking piece of
this length (`index_piece`), and each row found is then tested for the whole text."""


def index_piece(text: str) -> str:
    """The part of `text` to ask a trigram index for. A trigram index intersects the rows of
    every trigram of what it is asked, and a trigram as common as `com` (in every email
    address) has a million rows, so asking for a whole `b6a4294209@mail6.example.com` reads
    them all, while `b6a4294209` alone is a few small lists. The piece is the window of
    `INDEX_PIECE` characters with the most digits and capitals (ids, numbers, codes), the
    first of equals; a shorter text is its own piece."""
    if len(text) <= INDEX_PIECE:
        return text

    def score(piece: str) -> int:
        return sum(2 if c.isdigit() else 1 if c.isupper() else 0 for c in piece)

    starts = range(len(text) - INDEX_PIECE + 1)
    best = max(starts, key=lambda i: (score(text[i:i + INDEX_PIECE]), -i))
    return text[best:best + INDEX_PIECE]


def texts(conds: Sequence[Condition]) -> list[Condition]:
    """The text tests among `conds`."""
    return [cond for cond in conds if cond.op == "contains"]


MIN_INDEXED = 3
"""A trigram index answers substrings of three characters or more."""


def indexable(text: str) -> bool:
    """Whether a trigram index can look `text` up (its piece has a trigram of letters or
    digits: PostgreSQL's pg_trgm keeps no others)."""
    piece = index_piece(text)
    return len(piece) >= MIN_INDEXED and sum(c.isalnum() for c in piece) >= MIN_INDEXED


def is_common(matches_in_probe: int) -> bool:
    return matches_in_probe >= COMMON_IN_PROBE


def scanned_texts(probed: Sequence[Condition], matches: Sequence[int | None],
                  indexable: Callable[[str], bool]) -> frozenset[Condition]:
    """The text tests read row by row rather than looked up in the driver's text index,
    given how many of the newest finished rows (`PROBE_ROWS`) each one matched: the common
    ones (a lookup would find most of the table, and a scan newest first fills a page at
    once) and those the index cannot look up at all (`indexable`, the driver's rule)."""
    return frozenset(c for c, n in zip(probed, matches, strict=True)
                     if is_common(n or 0) or not indexable(str(c.value)))


def page_of(ids_newest_first: Sequence[JobId], limit: int) -> JobId | None:
    """The cursor of the next page: the last id shown, when the parts found more rows than
    the page holds (they fetch `limit + 1`)."""
    return ids_newest_first[limit - 1] if len(ids_newest_first) > limit else None


def total_of(counted: int, exact: bool = True, shown: int = 0) -> tuple[int, bool]:
    """(total, exact) from a count capped at `TOTAL_CAP + 1` (`exact` False: it was
    counted in a window, so it is a lower bound anyway). A lower bound is never below the
    `shown` rows the page found."""
    if counted > TOTAL_CAP:
        return max(TOTAL_CAP, shown), False
    return (counted, True) if exact else (max(counted, shown), False)
