"""Job searches on SQLite: `store.search`'s conditions and parts rendered into SQL.

Text is searched among finished jobs through `jobs_text`, an FTS5 table with the trigram
tokenizer (migration 0012), filled in batches by `index_search` (each store process runs it
every `INDEX_EVERY_SEC`: a finish pays nothing for search), together with the jobs finished
since its last run, which are few and scanned: a case-sensitive substring of three
characters or more is an index lookup there. An index lookup pays per
match, though, and a common substring (a word in most errors) matches far more rows than a
page shows; reading the newest rows finds a page of those at once. So each text test is
first tried on the newest rows (`search.PROBE_ROWS`): a rare one is taken from the index,
a common one is tested row by row with `instr` (the same case-sensitive test). Live jobs
(few) are always tested with `instr`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from conveyor.lifecycle import JobStatus
from conveyor.models import Job, JobId, Page
from conveyor.store import search
from conveyor.store.search import Condition, JobFilter, Part
from conveyor.store.sqlite.rows import JOB_COLUMNS, READ

INDEX_BATCH = 20_000
"""Most finished jobs `index_search` adds in one transaction (about 0.2 s of the writer)."""

INDEX_SETTLE_SEC = 1.0
"""`index_search` leaves the last second's finished jobs for its next run, so a clock that
steps back a little does not finish a job below `upto` unseen (the triggers would index it
even then)."""

INDEX_EVERY_SEC = 2.0
"""How often each store process runs `index_search` (the jobs finished since are scanned)."""

_INDEXED_OR_RECENT = (
    "rowid IN (SELECT rowid FROM jobs_text WHERE jobs_text MATCH ?"
    " UNION ALL SELECT rowid FROM jobs"
    " WHERE finished_at > (SELECT upto FROM search_index_state))")
"""The finished jobs the index finds, and those finished since the indexer last ran."""


def index_search(conn: sqlite3.Connection, now: float, limit: int | None = None) -> int:
    """Add to `jobs_text` the jobs finished after `upto`, oldest finish first, up to `limit`
    of them (`INDEX_BATCH` by default; and any that finished at the same time as the last
    one), but none of the last `INDEX_SETTLE_SEC`; move `upto` past them. One write
    transaction, which writes nothing (no commit to flush) when no job finished since
    `upto`: every store process runs this every few seconds. Returns the jobs added.
    Idempotent: any process may run it, and `upto` makes each job go in once."""
    limit = INDEX_BATCH if limit is None else limit
    upto = float(conn.execute("SELECT upto FROM search_index_state").fetchone()[0])
    ceiling = now - INDEX_SETTLE_SEC
    finished = conn.execute(
        "SELECT finished_at FROM jobs WHERE finished_at > ? AND finished_at <= ?"
        " ORDER BY finished_at LIMIT ?", (upto, ceiling, limit)).fetchall()
    if not finished:
        return 0
    cutoff = ceiling if len(finished) < limit else float(finished[-1][0])
    added = conn.execute(
        "INSERT INTO jobs_text (rowid, payload, last_error) SELECT rowid, payload, last_error"
        " FROM jobs WHERE finished_at > ? AND finished_at <= ?", (upto, cutoff)).rowcount
    conn.execute("UPDATE search_index_state SET upto = ?", (cutoff,))
    return int(added)


def fts_query(column: str, text: str) -> str:
    """An FTS5 query for `text` as a substring of `column`: one phrase, quotes doubled."""
    return f'{column} : "{text.replace(chr(34), chr(34) * 2)}"'


HALF_MICROSECOND = 5e-7


def _value(value: object) -> object:
    if isinstance(value, datetime):
        # Times are stored as float seconds and shown rounded to the microsecond: a bound
        # copied from a job's shown time must compare as the shown time does.
        return value.timestamp() - HALF_MICROSECOND
    if isinstance(value, UUID):
        return str(value)
    return value


def common_texts(conn: sqlite3.Connection, conds: Sequence[Condition]) -> frozenset[Condition]:
    """The text tests that are scanned rather than looked up (`search.scanned_texts`): many
    of the newest finished rows pass them, or they are too short for a trigram (FTS5's
    trigram tokenizer takes any characters, so length is the index's only limit)."""
    texts = search.texts(conds)
    if not any(_fts_indexable(str(c.value)) for c in texts):
        return frozenset(texts)  # none can be looked up: nothing to probe
    counts = ", ".join(f"sum(instr({c.column}, ?) > 0)" for c in texts)
    row = conn.execute(
        f"SELECT {counts} FROM (SELECT payload, last_error FROM jobs"
        " WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT ?)",
        (*(c.value for c in texts), search.PROBE_ROWS)).fetchone()
    return search.scanned_texts(texts, list(row), _fts_indexable)


def _fts_indexable(text: str) -> bool:
    return len(text) >= search.MIN_INDEXED


def part_sql(part: Part) -> str:
    """The slice's own test (literal, so the partial indexes of that slice apply)."""
    if part.status is None:
        return "finished_at IS NOT NULL"
    status = f"status = '{JobStatus(part.status).value}'"
    return f"{status} AND finished_at IS NOT NULL" if part.finished else status


def tests(conds: Sequence[Condition], scanned: frozenset[Condition], finished: bool,
          *extra: str) -> tuple[list[str], list[object]]:
    """Each condition as SQL with its parameters; a text test through the index only for
    finished rows (the index holds no others) and when it is not `scanned`."""
    found: list[str] = []
    params: list[object] = []
    for cond in conds:
        if cond.op == "contains":
            if finished and cond not in scanned:
                piece = search.index_piece(str(cond.value))
                found.append(_INDEXED_OR_RECENT)
                params.append(fts_query(cond.column, piece))
            # Every row is tested for the whole text, also those the index found by a piece
            # (and for any text at all: a VACUUM may renumber the rows an external-content
            # index points at, which then finds wrong rows, never a wrong answer).
            found.append(f"instr({cond.column}, ?) > 0")
            params.append(cond.value)
        elif cond.op == "in":
            assert isinstance(cond.value, tuple)
            found.append(f"{cond.column} IN ({', '.join('?' * len(cond.value))})")
            params += [_value(each) for each in cond.value]
        else:
            found.append(f"{cond.column} {cond.op} ?")
            params.append(_value(cond.value))
    return [*found, *extra], params


def where(part: Part, conds: Sequence[Condition], scanned: frozenset[Condition],
          *extra: str) -> tuple[str, list[object]]:
    found, params = tests(conds, scanned, part.finished, *extra)
    return " AND ".join([part_sql(part), *found]), params


def count_matches(conn: sqlite3.Connection, parts: Sequence[Part], conds: Sequence[Condition],
                  *extra: str, bounded: bool = False,
                  scanned: frozenset[Condition] | None = None) -> tuple[int, bool]:
    """The matches of every part, each counted up to `search.TOTAL_CAP + 1`, and
    whether that is all of them. A text test that is scanned (common) is counted among
    each part's newest `search.COUNT_WINDOW` rows only: whole when the part holds fewer.
    `scanned` None: probe the text tests first."""
    if scanned is None:
        scanned = common_texts(conn, conds)
    total, exact = 0, True
    for part in parts:
        if scanned and bounded:
            # A list's total: every test among the part's newest rows, a bounded read
            # however rare the other tests make the matches (`search.COUNT_WINDOW`).
            found, params = tests(conds, scanned, part.finished, *extra)
            n, seen = conn.execute(
                f"SELECT sum({' AND '.join(found)}), count(*) FROM (SELECT rowid AS rowid, *"
                f" FROM jobs WHERE {part_sql(part)} ORDER BY id DESC LIMIT ?)",
                (*params, search.COUNT_WINDOW)).fetchone()
            total += int(n or 0)
            exact = exact and seen < search.COUNT_WINDOW
            continue
        if scanned:
            # A bulk action's count: the window is the newest rows that pass every other
            # test, only the scanned texts are tested in it, so it is 0 only when none match
            # (a loop that stops at `remaining: 0` leaves nothing behind).
            clause, params = where(part, [c for c in conds if c not in scanned], scanned,
                                   *extra)
            texts, text_params = tests(sorted(scanned, key=conds.index), scanned, False)
            n, seen = conn.execute(
                f"SELECT sum({' AND '.join(texts)}), count(*) FROM (SELECT payload,"
                f" last_error FROM jobs WHERE {clause} ORDER BY id DESC LIMIT ?)",
                (*text_params, *params, search.COUNT_WINDOW)).fetchone()
            total += int(n or 0)
            exact = exact and seen < search.COUNT_WINDOW
            continue
        clause, params = where(part, conds, scanned, *extra)
        limit = f" LIMIT {search.TOTAL_CAP + 1}"
        total += int(conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM jobs WHERE {clause}{limit})", params
        ).fetchone()[0])
    return total, exact


def pick(conn: sqlite3.Connection, filter: JobFilter, after: JobId | None, limit: int,
         *extra: str, statuses: Sequence[JobStatus] | None = None) -> list[sqlite3.Row]:
    """The next `limit` jobs a bulk action takes, in id order (the writer's transaction
    holds the whole database, so nothing moves under it)."""
    conds = search.conditions(filter)
    if after is not None:
        conds.append(Condition("id", ">", after))
    scanned = common_texts(conn, conds)
    rows: list[sqlite3.Row] = []
    for part in search.parts(filter.status, statuses):
        clause, params = where(part, conds, scanned, *extra)
        rows += conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE {clause} ORDER BY id"
                             " LIMIT ?", (*params, limit)).fetchall()
    return sorted(rows, key=lambda row: str(row["id"]))[:limit]


def _page(conn: sqlite3.Connection, parts: Sequence[Part], conds: Sequence[Condition],
          scanned: frozenset[Condition], limit: int, offset: int) -> list[Job]:
    """`limit` + 1 jobs after `offset`, newest first, the parts merged in SQL (an offset
    never brings its rows into Python); the extra one says whether a next page exists."""
    branches: list[str] = []
    params: list[object] = []
    for part in parts:
        clause, found = where(part, conds, scanned)
        branches.append(f"SELECT * FROM (SELECT {JOB_COLUMNS} FROM jobs WHERE {clause}"
                        " ORDER BY id DESC LIMIT ?)")
        params += [*found, limit + offset + 1]
    rows = conn.execute(f"{' UNION ALL '.join(branches)} ORDER BY id DESC LIMIT ? OFFSET ?",
                        (*params, limit + 1, offset))
    return [READ.job(row) for row in rows]


def list_jobs(conn: sqlite3.Connection, filter: JobFilter, limit: int, offset: int,
              after: JobId | None, counted: int | None) -> Page:
    """A page of `filter`'s jobs; `counted`: the total when the caller has it (counters)."""
    parts = search.parts(filter.status)
    conds = search.conditions(filter)
    scanned = common_texts(conn, conds)  # once per page: the count below reuses it
    if after is not None:
        conds.append(Condition("id", "<", after))
    # A page of none still has its total.
    jobs = _page(conn, parts, conds, scanned, limit, offset) if limit > 0 else []
    cursor = search.page_of([job.id for job in jobs], limit)
    if counted is None:
        n, whole = count_matches(conn, parts, search.conditions(filter), bounded=True,
                                 scanned=scanned)
        total, exact = search.total_of(
            n, whole, len(jobs[:limit]) + (offset if after is None else 0))
    else:
        total, exact = counted, True
    return Page(jobs=jobs[:limit], total=total, total_exact=exact, next_cursor=cursor)
