"""Job searches on PostgreSQL: `store.search`'s conditions and parts rendered into SQL.

The values are rendered as literals (psycopg's quoting), not bound as parameters: the store's
connections plan bound statements generically (`plan_cache_mode=force_generic_plan`, right
for the hot statements), and a generic plan cannot tell a rare tenant from a common one or
see that a substring is long enough for the trigram index. A search is planned for its values
instead, which costs a fraction of a millisecond and picks the right index for each.

A rare substring is searched with `LIKE` (escaped, so `%` and `_` are plain characters;
case-sensitive), which the trigram indexes of migration 0012 answer for three characters or
more; the payload is searched as `payload::text`, the expression those indexes hold. A
common one (`search.PROBE_ROWS`) is tested row by row with `strpos`, which no index
answers, so the rows are read newest first and a page fills at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import sql

from conveyor.lifecycle import JobStatus
from conveyor.models import Job, JobId, Page
from conveyor.store import search
from conveyor.store.postgres.events import Conn
from conveyor.store.postgres.rows import READ, fetch
from conveyor.store.rows import JOB_COLUMNS
from conveyor.store.search import Condition, JobFilter, Part

_COLUMN_SQL = {"payload": "payload::text"}


def like_pattern(text: str) -> str:
    """`%text%` with LIKE's own characters escaped (the default escape is a backslash)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def condition(cond: Condition, scanned: frozenset[Condition] = frozenset()) -> sql.Composable:
    column = sql.SQL(_COLUMN_SQL.get(cond.column, cond.column))
    if cond.op == "contains":
        assert isinstance(cond.value, str)
        exact = sql.SQL("strpos({}, {}) > 0").format(column, sql.Literal(cond.value))
        if cond in scanned:
            return exact
        piece = search.index_piece(cond.value)
        looked_up = sql.SQL("{} LIKE {}").format(column, sql.Literal(like_pattern(piece)))
        return looked_up if piece == cond.value else sql.SQL("{} AND {}").format(
            looked_up, exact)
    if cond.op == "in":
        assert isinstance(cond.value, tuple)
        return sql.SQL("{} = ANY({}::uuid[])").format(column, sql.Literal(list(cond.value)))
    return sql.SQL("{} {} {}").format(column, sql.SQL(cond.op), sql.Literal(cond.value))


def part_sql(part: Part) -> sql.Composable:
    """The slice's own test, with literals so the partial indexes of that slice apply."""
    if part.status is None:
        return sql.SQL("finished_at IS NOT NULL")
    status = sql.SQL("status = {}").format(sql.Literal(JobStatus(part.status).value))
    return sql.SQL("{} AND finished_at IS NOT NULL").format(status) if part.finished else status


def where(part: Part, conds: Sequence[Condition], *extra: str,
          scanned: frozenset[Condition] = frozenset()) -> sql.Composable:
    tests = [part_sql(part), *(condition(c, scanned) for c in conds),
             *(sql.SQL(e) for e in extra)]
    return sql.SQL(" AND ").join(tests)


async def common_texts(conn: Conn, conds: Sequence[Condition]) -> frozenset[Condition]:
    """The text tests that many of the newest finished rows pass (`search.PROBE_ROWS`)."""
    texts = search.texts(conds)
    if not any(search.indexable(str(c.value)) for c in texts):
        return frozenset(texts)  # none can be looked up: nothing to probe
    counts = sql.SQL(", ").join(
        sql.SQL("count(*) FILTER (WHERE {}) AS {}").format(
            condition(c, frozenset(texts)), sql.Identifier(f"t{i}"))
        for i, c in enumerate(texts))
    probe = sql.SQL("SELECT {} FROM (SELECT payload, last_error FROM jobs WHERE finished_at "
                    "IS NOT NULL ORDER BY id DESC LIMIT {}) AS newest").format(
        counts, sql.Literal(search.PROBE_ROWS))
    cur = await conn.execute(probe.as_string(conn), prepare=False)
    row = await cur.fetchone()
    assert row is not None
    # A text too short for a trigram (or with no letter or digit: pg_trgm keeps only those)
    # cannot be looked up at all: it is scanned however rare.
    return search.scanned_texts(texts, [row[f"t{i}"] for i in range(len(texts))],
                                search.indexable)


def page_query(parts: Sequence[Part], conds: Sequence[Condition], limit: int,
               offset: int, scanned: frozenset[Condition] = frozenset()) -> sql.Composable:
    """Each part's newest `limit + offset + 1` rows, merged newest first."""
    take = sql.Literal(limit + offset + 1)
    branches = [sql.SQL("(SELECT {cols} FROM jobs WHERE {where} ORDER BY id DESC LIMIT {n})")
                .format(cols=sql.SQL(JOB_COLUMNS), where=where(part, conds, scanned=scanned),
                        n=take)
                for part in parts]
    return sql.SQL("SELECT * FROM ({}) AS page ORDER BY id DESC LIMIT {} OFFSET {}").format(
        sql.SQL(" UNION ALL ").join(branches), sql.Literal(limit + 1), sql.Literal(offset))


def count_query(parts: Sequence[Part], conds: Sequence[Condition], *extra: str,
                scanned: frozenset[Condition] = frozenset(),
                bounded: bool = False) -> sql.Composable:
    """The matches of every part, each counted up to `search.TOTAL_CAP + 1`, and
    whether the count is whole (`exact`). With a scanned text test, each part is counted
    among `search.COUNT_WINDOW` of its newest rows only (`bounded`: of all its rows, else of
    those passing the other tests): whole when the part holds fewer."""
    limit = sql.SQL(" LIMIT {}").format(sql.Literal(search.TOTAL_CAP + 1))
    if not parts:
        return sql.SQL("SELECT 0 AS n, true AS exact, now() AS as_of")
    if scanned and bounded:
        # A list's total: every test among the part's newest rows, a bounded read however
        # rare the other tests make the matches (`search.COUNT_WINDOW`).
        window = sql.Literal(search.COUNT_WINDOW)
        counts = [sql.SQL(
            "(SELECT count(*) FILTER (WHERE {tests}) AS n, count(*) < {w} AS whole FROM "
            "(SELECT * FROM jobs WHERE {part} ORDER BY id DESC LIMIT {w}) AS jobs)").format(
                tests=sql.SQL(" AND ").join(
                    [*(condition(c, scanned) for c in conds), *(sql.SQL(e) for e in extra)]),
                part=part_sql(part), w=window)
            for part in parts]
    elif scanned:
        # A bulk action's count: the window is the newest rows that pass every other test,
        # only the scanned texts are tested in it, so it is 0 only when none match (a loop
        # that stops at `remaining: 0` leaves nothing behind).
        window = sql.Literal(search.COUNT_WINDOW)
        others = [c for c in conds if c not in scanned]
        counts = [sql.SQL(
            "(SELECT count(*) FILTER (WHERE {texts}) AS n, count(*) < {w} AS whole FROM "
            "(SELECT payload, last_error FROM jobs WHERE {where} ORDER BY id DESC LIMIT {w})"
            " AS jobs)").format(
                texts=sql.SQL(" AND ").join(condition(c, scanned) for c in scanned),
                where=where(part, others, *extra), w=window)
            for part in parts]
    else:
        counts = [sql.SQL("(SELECT count(*) AS n, true AS whole FROM (SELECT 1 FROM jobs "
                          "WHERE {}{}) AS m)").format(where(part, conds, *extra), limit)
                  for part in parts]
    return sql.SQL("SELECT sum(n) AS n, bool_and(whole) AS exact, now() AS as_of FROM ({}) "
                   "AS parts").format(sql.SQL(" UNION ALL ").join(counts))


def pick(filter: JobFilter, after: JobId | None, limit: int, recheck: str, *extra: str,
         statuses: Sequence[JobStatus] | None = None,
         scanned: frozenset[Condition] = frozenset()) -> str:
    """The next `limit` jobs a bulk action takes, in id order (every batch's lock order),
    locked: a job a concurrent action holds is waited for, then `recheck`ed (the locked
    row's newest version must pass it), so one that moved meanwhile is left out."""
    parts = search.parts(filter.status, statuses)
    if not parts:
        return f"SELECT {JOB_COLUMNS} FROM jobs WHERE false"
    conds = search.conditions(filter)
    if after is not None:
        conds.append(Condition("id", ">", after))
    branches = sql.SQL(" UNION ALL ").join(
        sql.SQL("(SELECT id FROM jobs WHERE {} ORDER BY id LIMIT {})").format(
            where(part, conds, *extra, scanned=scanned), sql.Literal(limit))
        for part in parts)
    return sql.SQL("SELECT {} FROM jobs WHERE id IN (SELECT id FROM ({}) AS b ORDER BY id "
                   "LIMIT {}) AND {} ORDER BY id FOR UPDATE").format(
        sql.SQL(JOB_COLUMNS), branches, sql.Literal(limit), sql.SQL(recheck)
    ).as_string(None)


async def list_jobs(conn: Conn, filter: JobFilter, limit: int, offset: int,
                    after: JobId | None, counted: int | None) -> Page:
    """A page of `filter`'s jobs; `counted`: the total when the caller has it (counters)."""
    parts = search.parts(filter.status)
    conds = search.conditions(filter)
    if not parts:
        return Page(jobs=[], total=counted or 0)
    scanned = await common_texts(conn, conds)
    jobs: list[Job] = []
    if limit > 0:  # a page of none still has its total, as on SQLite
        paged = [*conds, Condition("id", "<", after)] if after is not None else conds
        query = page_query(parts, paged, limit, offset, scanned).as_string(conn)
        jobs = [READ.job(row) for row in await fetch(conn, query, None, False)]
    cursor = search.page_of([job.id for job in jobs], limit)
    if counted is None:
        n, exact, _ = await count_matches(conn, parts, conds, scanned=scanned, bounded=True)
        total, exact = search.total_of(
            n, exact, len(jobs[:limit]) + (offset if after is None else 0))
    else:
        total, exact = counted, True
    return Page(jobs=jobs[:limit], total=total, total_exact=exact, next_cursor=cursor)


async def count_matches(conn: Conn, parts: Sequence[Part], conds: Sequence[Condition],
                        *extra: str,
                        scanned: frozenset[Condition] | None = None, bounded: bool = False
                        ) -> tuple[int, bool, datetime]:
    """The matches (up to `search.TOTAL_CAP + 1`), whether that is all of them, and the
    store's time it counted at. `scanned` None: probe the text tests first."""
    if scanned is None:
        scanned = await common_texts(conn, conds)
    cur = await conn.execute(
        count_query(parts, conds, *extra, scanned=scanned,
                    bounded=bounded).as_string(conn),
        prepare=False)
    row: dict[str, Any] | None = await cur.fetchone()
    assert row is not None
    return int(row["n"]), bool(row["exact"]), row["as_of"]
