"""Listing at a million jobs (`make bench-listing`, issue 15): pages, filters and bulk previews.

Per store, a fresh database holds `--rows` finished jobs (default 1,000,000, three events each)
with the spread of `bench.history` (statuses, ten tenants of which one rare, five queues,
twenty tasks, fifty error messages, payloads with e-mail addresses, trace ids, seven days of
creation times). One real `conveyor api` process serves it; the bench sends each case's
request one at a time over one keep-alive connection (httpx, as a dashboard's client would),
`--warmup` unmeasured times and then `--requests` measured ones, per round (`--runs`), and
reports p50 and p99 of the pooled samples. The target (issue 15): p50 ≤ 20 ms and p99 ≤
100 ms for every case but the `offset` one, which shows what the cursor replaces.

The probes come from the seeded rows themselves (ids at 10, 50 and 90 % depth, a trace id, an
id prefix, an e-mail address, hour windows), read with SQL after the seed. Each case's first
answer is checked (status 200, every job returned matches the filter, a deep page starts at
the job it should, totals that must be exact are): a wrong answer is reported as the case's
`problem`, never timed as if it were right. A case whose parameters the API does not offer
(its /openapi.json) is skipped and listed, so the bench runs against an older API too.

The same request repeated is a warm-cache figure (the database's pages in memory): what a
dashboard refreshing a view meets. On a 2-core machine the client, the API and PostgreSQL
share the cores; each case's CPU is accounted as in the other benches, and a case during
which more than 10 % of the machine went to other processes is flagged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

from bench import history
from bench.environment import (
    cpu_between,
    cpu_snapshot,
    ensure_local,
    machine_info,
    postgres_available,
    sweep_leftovers,
    wait_for_quiet,
)
from bench.processes import Process, start_api, wait_http_ok
from bench.results import DISTURBED, RESULTS_DIR, Collector, Measurement, percentile
from conveyor.store import connect_store
from conveyor.store.sqlite import sqlite_path_from_url

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET_P50_MS = 20.0
TARGET_P99_MS = 100.0
PAGE = 20
"""The dashboard's page size (`PAGE_SIZE` in dashboard/src/services/jobs.ts)."""
NO_MATCH_ERROR = "no such failure 424242"
NO_MATCH_PAYLOAD = "nobody@nowhere.invalid"

Json = dict[str, Any]
Check = Callable[[Json], str | None]
"""Looks at a case's first answer; returns what is wrong with it, or None."""


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: Json | None = None  # a POST when given
    check: Check | None = None
    target: bool = True  # held to the p50/p99 target
    max_requests: int | None = None  # fewer for the slow comparison case

    @property
    def method(self) -> str:
        return "GET" if self.body is None else "POST"


@dataclass
class Outcome:
    """One case on one store: every measured sample (seconds), and what the answers said."""

    samples: list[float] = field(default_factory=list)
    problem: str | None = None
    answer: Json = field(default_factory=dict)  # total, total_exact, returned or matched
    cpu: list[dict[str, float]] = field(default_factory=list)


# -- the store --------------------------------------------------------------------------------


class Database:
    """A fresh database for one store kind, named `bench_listing_<pid>_<kind>` (PostgreSQL)
    or a file in a temporary directory (SQLite); dropped by `drop` unless kept."""

    def __init__(self, kind: str, postgres_url: str, existing: str | None = None) -> None:
        self.kind = kind
        self.postgres_url = postgres_url
        self.existing = existing is not None
        self._dir: Path | None = None  # not a TemporaryDirectory: that one cleans up by itself
        if existing is not None:
            self.url = existing
        elif kind == "sqlite":
            self._dir = Path(tempfile.mkdtemp(prefix="conveyor-bench-listing-"))
            self.url = f"sqlite:///{self._dir / 'listing.db'}"
        else:
            self.name = f"bench_listing_{os.getpid()}_{kind}"
            with self._admin() as conn:
                sweep_leftovers(conn, "bench_listing")
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{self.name}"')
            self.url = urlunsplit(urlsplit(postgres_url)._replace(path=f"/{self.name}"))

    def _admin(self) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(self.postgres_url, autocommit=True, connect_timeout=3)

    def drop(self) -> None:
        if self.existing:
            return
        if self.kind == "postgres":
            with contextlib.suppress(psycopg.Error), self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        elif self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)


async def migrate(url: str) -> None:
    """Open the store once with conveyor's own code, so every migration has run."""
    store = await connect_store(url)
    await store.close()


@dataclass(frozen=True)
class Deep:
    """A deep page: it must start at `first_id`, the job at `rank` (0: the newest) under
    its filter; `newer_id` is the job just before it, the last one of the previous page."""

    rank: int
    first_id: str
    newer_id: str


@dataclass(frozen=True)
class Probes:
    """Real values from the seeded rows, for the cases' parameters and checks."""

    rows: int
    by_status: dict[str, int]
    deep: dict[str, Deep]  # "10", "50", "90" (% of every job), "dlq", "tenant"
    failed_rows: int
    common_tenant: str
    rare_tenant_jobs: int
    queue: str
    task: str
    trace_id: str
    trace_jobs: int
    id_prefix: str  # 6 hex digits
    id_millisecond: str  # the first 13 characters of an id (its millisecond, dash included)
    email: str
    created_hour: tuple[datetime, datetime]
    finished_hour: tuple[datetime, datetime]
    redrive_task_matched: int
    redrive_error_matched: int
    redrive_rare_matched: int


class _Reader:
    """Runs one query on either store (`?` placeholders, rewritten for psycopg)."""

    def __init__(self, kind: str, url: str) -> None:
        self.kind = kind
        self._sqlite: sqlite3.Connection | None = None
        self._pg: psycopg.Connection[tuple[Any, ...]] | None = None
        if kind == "sqlite":
            self._sqlite = sqlite3.connect(sqlite_path_from_url(url))
        else:
            self._pg = psycopg.connect(url, autocommit=True)

    def one(self, sql: str, *params: Any) -> Any:
        if self._sqlite is not None:
            row = self._sqlite.execute(sql, params).fetchone()
        else:
            assert self._pg is not None
            row = self._pg.execute(sql.replace("?", "%s"), params).fetchone()
        return None if row is None else row[0]

    def contains(self, column: str) -> str:
        """A case-sensitive substring test, as the API defines `error` and `payload`."""
        if self.kind == "sqlite":
            return f"instr({column}, ?) > 0"
        return f"strpos({column}::text, ?) > 0"

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pg is not None:
            self._pg.close()


def _moment(kind: str, value: Any) -> datetime:
    if kind == "sqlite":
        return datetime.fromtimestamp(float(value), UTC)
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


def _hour_around(moment: datetime) -> tuple[datetime, datetime]:
    start = moment.replace(minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=1)


def read_probes(kind: str, url: str) -> Probes:
    """Pick the cases' values from the rows (offset scans, once: seconds at a million)."""
    db = _Reader(kind, url)
    try:
        rows = int(db.one("SELECT count(*) FROM jobs"))
        by_status = {s: int(db.one("SELECT count(*) FROM jobs WHERE status = ?", s))
                     for s in ("done", "failed", "cancelled")}

        def nth(where: str, offset: int, *params: Any) -> str:
            return str(db.one(f"SELECT id FROM jobs {where} ORDER BY id DESC LIMIT 1 OFFSET ?",
                              *params, offset))

        def deep(where: str, rank: int, *params: Any) -> Deep:
            return Deep(rank, nth(where, rank, *params), nth(where, rank - 1, *params))

        failed = by_status["failed"]
        common = history.TENANTS[0][0]
        tenant_jobs = int(db.one("SELECT count(*) FROM jobs WHERE tenant = ?", common))
        pages = {str(pct): deep("", rows * pct // 100) for pct in (10, 50, 90)}
        pages["dlq"] = deep("WHERE status = 'failed'", failed // 2)
        pages["tenant"] = deep("WHERE tenant = ?", tenant_jobs // 2, common)
        middle = pages["50"].first_id
        trace = str(db.one("SELECT trace_id FROM jobs WHERE id = ?", middle))
        payload = db.one("SELECT payload FROM jobs WHERE id = ?", nth("", rows * 30 // 100))
        email = str((json.loads(payload) if isinstance(payload, str) else payload)
                    ["customer_email"])
        created = _moment(kind, db.one("SELECT created_at FROM jobs WHERE id = ?", middle))
        finished = _moment(kind, db.one("SELECT finished_at FROM jobs WHERE id = ?",
                                        nth("", rows * 70 // 100)))
        task = "refund_payment"
        redrivable = "status = 'failed' AND retried_by IS NULL"
        return Probes(
            rows=rows, by_status=by_status, deep=pages, failed_rows=failed,
            common_tenant=common,
            rare_tenant_jobs=int(db.one("SELECT count(*) FROM jobs WHERE tenant = ?",
                                        history.RARE_TENANT)),
            queue="billing", task=task, trace_id=trace,
            trace_jobs=int(db.one("SELECT count(*) FROM jobs WHERE trace_id = ?", trace)),
            id_prefix=middle[:6], id_millisecond=middle[:13], email=email,
            created_hour=_hour_around(created), finished_hour=_hour_around(finished),
            redrive_task_matched=int(db.one(
                f"SELECT count(*) FROM jobs WHERE {redrivable} AND task = ?", task)),
            redrive_error_matched=int(db.one(
                f"SELECT count(*) FROM jobs WHERE {redrivable} AND "
                + db.contains("last_error"), history.COMMON_ERROR)),
            redrive_rare_matched=int(db.one(
                f"SELECT count(*) FROM jobs WHERE {redrivable} AND "
                + db.contains("last_error"), history.RARE_ERROR)),
        )
    finally:
        db.close()


# -- the cases --------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _matches(job: Json, params: dict[str, str]) -> str | None:
    """Whether one listed job passes the filter of `params` (the API's own rules)."""
    for name in ("status", "tenant", "queue", "task", "trace_id"):
        if name in params and job.get(name) != params[name]:
            return f"job {job['id']}: {name} {job.get(name)!r}, asked {params[name]!r}"
    if "id_prefix" in params:
        digits = params["id_prefix"].replace("-", "")
        if not str(job["id"]).replace("-", "").startswith(digits):
            return f"job {job['id']} does not start with {params['id_prefix']}"
    if "error" in params and params["error"] not in (job.get("last_error") or ""):
        return f"job {job['id']}: last_error {job.get('last_error')!r} lacks {params['error']!r}"
    if "payload" in params and params["payload"] not in json.dumps(job["payload"],
                                                                   ensure_ascii=False):
        return f"job {job['id']}: payload lacks {params['payload']!r}"
    for column in ("created", "finished"):
        moment = _when(job.get(f"{column}_at"))
        after, before = _when(params.get(f"{column}_after")), _when(
            params.get(f"{column}_before"))
        if (after or before) and moment is None:
            return f"job {job['id']}: no {column}_at"
        if moment is not None and ((after and moment < after) or (before and moment >= before)):
            return f"job {job['id']}: {column}_at {moment} outside the range"
    return None


def list_check(params: dict[str, str], *, rows: str = "some", total: int | None = None,
               first_id: str | None = None, status: str | None = None) -> Check:
    """A list answer is right when every job matches the filter; `rows` "some" (at least
    one job), "none" or "any"; `total` when the total must be exactly that; `first_id` when
    the page must start there (a deep page)."""
    wanted = dict(params, **({"status": status} if status else {}))

    def check(answer: Json) -> str | None:
        jobs = answer.get("jobs")
        if not isinstance(jobs, list):
            return f"no jobs list in {str(answer)[:200]}"
        if rows == "some" and not jobs:
            return "no job matched (the probe is one of the rows)"
        if rows == "none" and jobs:
            return f"{len(jobs)} jobs matched a filter that matches none"
        if len(jobs) > int(params.get("limit", PAGE)):
            return f"{len(jobs)} jobs on a page of {params.get('limit', PAGE)}"
        ids = [str(job["id"]) for job in jobs]
        if ids != sorted(ids, reverse=True):
            return "the page is not newest first"
        if first_id is not None and ids and ids[0] != first_id:
            return f"the page starts at {ids[0]}, not at {first_id}"
        if "cursor" in params and ids and ids[0] >= params["cursor"]:
            return "the page after the cursor holds the cursor's job or newer"
        for job in jobs:
            problem = _matches(job, wanted)
            if problem:
                return problem
        if total is not None and (answer.get("total") != total
                                  or answer.get("total_exact") is False):
            return (f"total {answer.get('total')} (exact: {answer.get('total_exact')}), "
                    f"the rows hold {total}")
        return None

    return check


def preview_check(matched: int) -> Check:
    """A dry run's answer is right when it counts what the rows hold: exactly, or, when it
    says its counts are not exact (`counts_exact` false: a capped count), a lower bound."""

    def check(answer: Json) -> str | None:
        if answer.get("dry_run") is not True:
            return f"not a dry run: {str(answer)[:200]}"
        counted = answer.get("matched")
        if not isinstance(counted, int):
            return f"no matched count in {str(answer)[:200]}"
        if answer.get("counts_exact") is False:
            if counted > matched or (counted == 0 and matched > 0):
                return f"matched {counted} (a lower bound), the rows hold {matched}"
        elif counted != matched:
            return f"matched {counted}, the rows hold {matched}"
        return None

    return check


CursorOf = Callable[[str, dict[str, str], Deep], str]
"""(path, filter, deep page) -> the cursor whose page is that deep page."""


def cases(p: Probes, cursor_of: CursorOf) -> list[Case]:
    """Every case, in the order reported."""
    rows = p.rows
    out: list[Case] = [Case("first_page", "GET /jobs, first page", "/jobs", {},
                            check=list_check({}, total=rows))]
    for pct in (10, 50, 90):
        page = p.deep[str(pct)]
        params = {"cursor": cursor_of("/jobs", {}, page)}
        out.append(Case(f"depth_{pct}", f"GET /jobs, cursor at {pct} % depth", "/jobs", params,
                        check=list_check(params, first_id=page.first_id)))
    half = {"offset": str(rows // 2)}
    out.append(Case("offset_half", f"GET /jobs, offset={rows // 2:,} (comparison)", "/jobs",
                    half, check=list_check(half), target=False, max_requests=20))

    def listed(key: str, label: str, params: dict[str, str], **check: Any) -> None:
        out.append(Case(key, label, "/jobs", params, check=list_check(params, **check)))

    listed("status_done", "status=done", {"status": "done"}, total=p.by_status["done"])
    listed("status_failed", "status=failed", {"status": "failed"},
           total=p.by_status["failed"])
    listed("tenant_common", f"tenant={p.common_tenant} (the largest)",
           {"tenant": p.common_tenant})
    listed("tenant_rare", f"tenant={history.RARE_TENANT} (rare)",
           {"tenant": history.RARE_TENANT}, total=p.rare_tenant_jobs)
    listed("queue", f"queue={p.queue}", {"queue": p.queue})
    listed("task", f"task={p.task}", {"task": p.task})
    listed("trace_id", "trace_id (one batch's)", {"trace_id": p.trace_id}, total=p.trace_jobs)
    listed("id_prefix", f"id_prefix={p.id_prefix} (6 hex digits)", {"id_prefix": p.id_prefix})
    listed("id_prefix_ms", "id_prefix, 13 characters (one millisecond)",
           {"id_prefix": p.id_millisecond})
    listed("error_common", f"error={history.COMMON_ERROR} (common)",
           {"error": history.COMMON_ERROR})
    listed("error_rare", "error, rare message", {"error": "checksum mismatch"})
    listed("error_none", "error, matching nothing", {"error": NO_MATCH_ERROR}, rows="none",
           total=0)
    listed("payload_rare", "payload=<one e-mail address>", {"payload": p.email})
    listed("payload_common", f"payload={history.COMMON_PAYLOAD} (a quarter of the jobs)",
           {"payload": history.COMMON_PAYLOAD})
    listed("payload_none", "payload, matching nothing", {"payload": NO_MATCH_PAYLOAD},
           rows="none", total=0)
    listed("created_hour", "created_after/before, one hour",
           {"created_after": _iso(p.created_hour[0]), "created_before": _iso(p.created_hour[1])})
    listed("finished_hour", "finished_after/before, one hour",
           {"finished_after": _iso(p.finished_hour[0]),
            "finished_before": _iso(p.finished_hour[1])})
    combined = {"status": "failed", "tenant": p.common_tenant, "task": p.task,
                "error": history.COMMON_ERROR}
    listed("combined", "status + tenant + task + error", combined)
    tenant_deep = {"tenant": p.common_tenant}
    tenant_deep["cursor"] = cursor_of("/jobs", tenant_deep, p.deep["tenant"])
    listed("tenant_depth_50", f"tenant={p.common_tenant}, cursor at 50 % of its jobs",
           tenant_deep, first_id=p.deep["tenant"].first_id)
    out.append(Case("dlq_first", "GET /dlq, first page", "/dlq", {},
                    check=list_check({}, total=p.failed_rows, status="failed")))
    dlq_deep = {"cursor": cursor_of("/dlq", {}, p.deep["dlq"])}
    out.append(Case("dlq_depth_50", "GET /dlq, cursor at 50 % depth", "/dlq", dlq_deep,
                    check=list_check(dlq_deep, first_id=p.deep["dlq"].first_id,
                                     status="failed")))

    def preview(key: str, label: str, path: str, body: Json, matched: int) -> None:
        out.append(Case(key, label, path, body={"dry_run": True, **body},
                        check=preview_check(matched)))

    preview("redrive_task", f"POST /dlq/redrive dry run, task={p.task}", "/dlq/redrive",
            {"task": p.task}, p.redrive_task_matched)
    preview("redrive_error", f"POST /dlq/redrive dry run, error={history.COMMON_ERROR}",
            "/dlq/redrive", {"error": history.COMMON_ERROR}, p.redrive_error_matched)
    preview("redrive_error_rare", "POST /dlq/redrive dry run, rare error", "/dlq/redrive",
            {"error": history.RARE_ERROR}, p.redrive_rare_matched)
    preview("cancel_tenant", f"POST /jobs/cancel dry run, tenant={p.common_tenant}",
            "/jobs/cancel", {"tenant": p.common_tenant}, 0)
    preview("cancel_error", f"POST /jobs/cancel dry run, error={history.COMMON_ERROR}",
            "/jobs/cancel", {"error": history.COMMON_ERROR}, 0)
    return out


# -- what the API offers ----------------------------------------------------------------------


class Api:
    """The API's /openapi.json: which query parameters and body fields each route takes."""

    def __init__(self, document: Json) -> None:
        self.document = document

    def _schema(self, schema: Json) -> Json:
        while "$ref" in schema:
            name = str(schema["$ref"]).rsplit("/", 1)[-1]
            schema = self.document["components"]["schemas"][name]
        return schema

    def lacks(self, case: Case) -> list[str]:
        """The names `case` uses that the route does not take (the route itself, if absent)."""
        operation = self.document.get("paths", {}).get(case.path, {}).get(case.method.lower())
        if operation is None:
            return [f"{case.method} {case.path}"]
        if case.body is None:
            names = {str(p["name"]) for p in operation.get("parameters", [])}
            return [name for name in case.params if name not in names]
        content = operation.get("requestBody", {}).get("content", {})
        schema = self._schema(content.get("application/json", {}).get("schema", {}))
        return [name for name in case.body if name not in schema.get("properties", {})]


# -- measuring --------------------------------------------------------------------------------


def _request(client: httpx.Client, case: Case) -> httpx.Response:
    if case.body is None:
        return client.get(case.path, params=case.params)
    return client.post(case.path, json=case.body)


def _summary(case: Case, answer: Json) -> Json:
    if case.body is not None:
        return {"matched": answer.get("matched"), "counts_exact": answer.get("counts_exact")}
    return {"total": answer.get("total"), "total_exact": answer.get("total_exact"),
            "returned": len(answer.get("jobs", [])),
            "next_cursor": answer.get("next_cursor") is not None}


def measure(client: httpx.Client, case: Case, outcome: Outcome, requests: int, warmup: int,
            budget_sec: float, api_pid: int) -> None:
    """`warmup` unmeasured requests (the first one checked), then up to `requests` measured
    ones, within `budget_sec` once ten are in."""
    count = min(requests, case.max_requests or requests)
    for index in range(max(1, warmup)):
        response = _request(client, case)
        if response.status_code != 200:
            outcome.problem = f"HTTP {response.status_code}: {response.text[:300]}"
            return
        if index == 0 and not outcome.answer:
            answer = response.json()
            outcome.answer = _summary(case, answer)
            outcome.problem = case.check(answer) if case.check else None
            if outcome.problem:
                return
    before = cpu_snapshot([api_pid])
    began = time.monotonic()
    for index in range(count):
        start = time.perf_counter()
        response = _request(client, case)
        took = time.perf_counter() - start
        if response.status_code != 200:
            outcome.problem = f"HTTP {response.status_code}: {response.text[:300]}"
            return
        outcome.samples.append(took)
        if index >= 9 and time.monotonic() - began > budget_sec:
            break
    outcome.cpu.append(cpu_between(before, cpu_snapshot([api_pid])))


def _cursor_finder(client: httpx.Client, api: Api) -> CursorOf:
    """How to make the cursor of a deep page. Without `cursor` on the API: a placeholder
    (those cases are skipped). When the API's cursor is the last id a page shows (its first
    page says so), the id of the job just newer than the page, read from the rows. Otherwise
    (an opaque cursor) the `next_cursor` of the page of that one job, asked with `offset`:
    one slow call per deep case, before the timing."""
    if "cursor" in api.lacks(Case("probe", "", "/jobs", {"cursor": ""})):
        return lambda path, filter, page: "-"
    first = client.get("/jobs", params={"limit": "2"})
    first.raise_for_status()
    answer = first.json()
    by_id = bool(answer["jobs"]) and answer.get("next_cursor") == answer["jobs"][-1]["id"]

    def cursor_of(path: str, filter: dict[str, str], page: Deep) -> str:
        if by_id:
            return page.newer_id
        params = {k: v for k, v in filter.items() if k != "cursor"}
        response = client.get(path, params={**params, "limit": "1",
                                            "offset": str(page.rank - 1)}, timeout=600)
        response.raise_for_status()
        cursor = response.json().get("next_cursor")
        return "-" if cursor is None else str(cursor)

    return cursor_of


# -- a store's run ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    rows: int
    requests: int
    warmup: int
    runs: int
    budget_sec: float
    sqlite_analyze: bool
    log_level: str = "warning"
    only: tuple[str, ...] = ()  # case keys (empty: every case)
    wait_idle: float = 0.0  # seconds to wait for a quiet machine before measuring
    now: float | None = None  # where every store's history ends (None: at its seeding)


async def run_store(kind: str, plan: Plan, postgres_url: str, logs: Path,
                    collector: Collector, existing: str | None = None,
                    keep: bool = False) -> Json:
    """Seed (unless `existing`), start `conveyor api`, measure every case; the database is
    dropped afterwards unless `keep` or `existing`. The counters are checked against the
    rows first: the unfiltered totals come from them, and a seed that left them wrong would
    make every total check fail for the wrong reason."""
    database = Database(kind, postgres_url, existing)
    result: Json = {"store": kind}
    try:
        if existing is None:
            await migrate(database.url)
            seeded = await asyncio.to_thread(
                history.seed, kind, database.url,
                history.HistoryPlan(plan.rows, now=plan.now,
                                    analyze=plan.sqlite_analyze or kind != "sqlite"))
            print(f"  {kind:8} seeded {history.describe(seeded)}", flush=True)
            for line in seeded.maintenance:
                print(f"  {kind:8}   maintenance: {line}", flush=True)
            result["seeded"] = asdict(seeded)
        else:
            await migrate(database.url)  # a store seeded by an older tree: migrate it
        counters = history.counters(kind, database.url)
        probes = await asyncio.to_thread(read_probes, kind, database.url)
        result["counters"] = counters
        result["rows"] = probes.rows
        if counters.get("jobs_submitted") != probes.rows or any(
                counters.get(f"status:{s}", 0) != n for s, n in probes.by_status.items()):
            raise RuntimeError(f"the counters {counters} disagree with the rows "
                               f"({probes.rows}, {probes.by_status})")
        if plan.wait_idle > 0:
            busy = await asyncio.to_thread(wait_for_quiet, plan.wait_idle)
            print(f"  {kind:8} machine {busy:.0%} busy before measuring", flush=True)
            result["machine_busy_before"] = round(busy, 3)
        api, port = start_api(database.url, plan.log_level, logs, f"{kind}-listing")
        try:
            await wait_http_ok(port, api, timeout=120)
            result |= await asyncio.to_thread(_measure_all, kind, plan, probes, api, port,
                                              collector)
        finally:
            api.stop()
        if keep and existing is None:
            print(f"  {kind:8} kept: {database.url}", flush=True)
    finally:
        if not keep:
            database.drop()
    return result


def _measure_all(kind: str, plan: Plan, probes: Probes, api: Process, port: int,
                 collector: Collector) -> Json:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        document = client.get("/openapi.json").json()
        offered = Api(document)
        listed: list[Case] = []
        skipped: dict[str, str] = {}
        for case in cases(probes, _cursor_finder(client, offered)):
            if plan.only and case.key not in plan.only:
                continue
            lacking = offered.lacks(case)
            if lacking:
                skipped[case.key] = f"the API lacks {', '.join(lacking)}"
            else:
                listed.append(case)
        outcomes = {case.key: Outcome() for case in listed}
        for run in range(plan.runs):
            for case in listed:
                outcome = outcomes[case.key]
                if outcome.problem is None:
                    measure(client, case, outcome, plan.requests, plan.warmup, plan.budget_sec,
                            api.pid)
            print(f"  {kind:8} round {run + 1}/{plan.runs} measured", flush=True)
    report: Json = {"cases": {}, "skipped": skipped}
    for case in listed:
        outcome = outcomes[case.key]
        report["cases"][case.key] = _record(kind, case, outcome, collector)
    for key, why in skipped.items():
        print(f"  {kind:8} {key}: skipped ({why})", flush=True)
    return report


def _record(kind: str, case: Case, outcome: Outcome, collector: Collector) -> Json:
    ms = [s * 1000 for s in outcome.samples]
    p50 = percentile(ms, 50) if ms else math.nan
    p99 = percentile(ms, 99) if ms else math.nan
    held = (not math.isnan(p50) and p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS)
    cpu = _cpu_total(outcome.cpu)
    details: Json = {"requests": len(ms), "max_ms": round(max(ms), 3) if ms else None,
                     "method": case.method, "path": case.path, "params": case.params,
                     "body": case.body, "answer": outcome.answer, "problem": outcome.problem,
                     "target": case.target, "held": held if case.target else None}
    for q, value in ((50, p50), (99, p99)):
        collector.add(Measurement(
            key=f"listing.{case.key}.p{q}", label=f"{case.label}, p{q}", store=kind,
            value=round(value, 3) if not math.isnan(value) else value, unit="ms",
            details={**details, **({"cpu_seconds": cpu} if q == 50 and cpu else {})},
            higher_is_better=False))
    if outcome.problem:
        print(f"  {kind:8} {case.key}: PROBLEM {outcome.problem}", flush=True)
    return {"label": case.label, "p50_ms": round(p50, 3) if ms else None,
            "p99_ms": round(p99, 3) if ms else None, "target": case.target,
            "held": held if case.target else None,
            "other_cpu_fraction": cpu.get("other_fraction") if cpu else None, **details}


def _cpu_total(parts: list[dict[str, float]]) -> dict[str, float] | None:
    """The CPU account of the round most disturbed by other processes: the flag a case
    gets is its worst round's."""
    if not parts:
        return None
    return max(parts, key=lambda p: p.get("other_fraction", 0.0))


# -- the table --------------------------------------------------------------------------------


def table(results: list[Json]) -> str:
    """Markdown: one row per case, p50 / p99 per store, ✗ where the target is missed."""
    stores = [r["store"] for r in results]
    keys: list[str] = []
    labels: dict[str, str] = {}
    for r in results:
        for key, case in r.get("cases", {}).items():
            if key not in labels:
                keys.append(key)
                labels[key] = case["label"]
    lines = ["| case | " + " | ".join(f"{s} p50 / p99 ms" for s in stores) + " |",
             "|---|" + "---:|" * len(stores)]
    for key in keys:
        cells = []
        for r in results:
            case = r.get("cases", {}).get(key)
            if case is None:
                cells.append("skipped")
            elif case["problem"]:
                cells.append("wrong answer")
            else:
                mark = " ✗" if case["held"] is False else ""
                if (case.get("other_cpu_fraction") or 0.0) > DISTURBED:
                    mark += " †"
                cells.append(f"{_ms(case['p50_ms'])} / {_ms(case['p99_ms'])}{mark}")
        lines.append(f"| {labels[key]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


# -- the command ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.listing",
                                     description="Listing, filters and bulk previews at a "
                                                 "million jobs (issue 15).")
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--quick", action="store_true",
                        help="20,000 rows, 20 requests per case, 3 warm-ups")
    parser.add_argument("--rows", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--requests", type=int, default=None,
                        help="measured requests per case and round (default 100)")
    parser.add_argument("--warmup", type=int, default=None, help="default 10")
    parser.add_argument("--runs", type=int, default=1, help="rounds over every case")
    parser.add_argument("--budget-sec", type=float, default=30.0,
                        help="a case's measured requests stop after this (once 10 are in)")
    parser.add_argument("--wait-idle", type=float, default=None,
                        help="before measuring a store, wait up to this many seconds for the "
                             "machine to be under 15 %% busy (default 60, --quick 0)")
    parser.add_argument("--no-sqlite-analyze", action="store_true",
                        help="leave SQLite without statistics (PostgreSQL is always analyzed)")
    parser.add_argument("--cases", default="",
                        help="only these cases (comma-separated keys, as in the JSON)")
    parser.add_argument("--database-url", default=None,
                        help="measure this already seeded store instead (one --store)")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "CONVEYOR_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    parser.add_argument("--json", type=Path, default=None,
                        help="where to write the JSON (default bench/results/listing-*.json)")
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args(argv)
    args.rows = args.rows or (20_000 if args.quick else 1_000_000)
    args.requests = args.requests or (20 if args.quick else 100)
    args.warmup = args.warmup if args.warmup is not None else (3 if args.quick else 10)
    args.wait_idle = args.wait_idle if args.wait_idle is not None else (0 if args.quick else 60)
    if args.database_url and args.store == "both":
        parser.error("--database-url needs --store sqlite or --store postgres")
    return args


async def main_async(args: argparse.Namespace) -> list[Json]:
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    if "postgres" in kinds:
        ensure_local(args.postgres_url)
        why = postgres_available(args.postgres_url)
        if why:
            print(f"  postgres skipped: {why}", flush=True)
            kinds.remove("postgres")
    plan = Plan(rows=args.rows, requests=args.requests, warmup=args.warmup, runs=args.runs,
                budget_sec=args.budget_sec, sqlite_analyze=not args.no_sqlite_analyze,
                only=tuple(key.strip() for key in args.cases.split(",") if key.strip()),
                wait_idle=args.wait_idle, now=time.time())
    collector = Collector()
    results: list[Json] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-listing-logs-") as logs:
        for kind in kinds:
            results.append(await run_store(kind, plan, args.postgres_url, Path(logs),
                                           collector, args.database_url, args.keep))
    elapsed = time.monotonic() - started
    print()
    print(table(results))
    print(f"\n{elapsed:.0f} s in all; {plan.runs} round(s) of {plan.requests} requests per "
          f"case after {plan.warmup} warm-ups; target p50 ≤ {TARGET_P50_MS:.0f} ms, p99 ≤ "
          f"{TARGET_P99_MS:.0f} ms (✗: missed); †: more than {DISTURBED:.0%} of the machine's "
          f"CPU went to other processes during the case ({len(collector.notes)} cases)")
    if not args.no_json:
        path = _write_json(args, plan, results, collector, elapsed,
                           args.postgres_url if "postgres" in kinds else None)
        print(f"JSON: {path}")
    return results


def _write_json(args: argparse.Namespace, plan: Plan, results: list[Json], collector: Collector,
                elapsed: float, postgres_url: str | None) -> Path:
    """The same document as `bench.run` writes (so `bench.report` reads it), plus each
    store's seeding and per-case answers."""
    path = args.json or RESULTS_DIR / f"listing-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "config": {"argv": sys.argv[1:], "plan": asdict(plan), "elapsed_sec": round(elapsed, 1),
                   "target_ms": {"p50": TARGET_P50_MS, "p99": TARGET_P99_MS}},
        "machine": machine_info(postgres_url),
        "stores": results,
        "summary": collector.summary(),
        "measurements": [asdict(m) for m in collector.measurements],
        "notes": collector.notes,
    }
    path.write_text(json.dumps(document, indent=1, default=str) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    results = asyncio.run(main_async(parse_args(argv)))
    problems = [f"{r['store']} {key}" for r in results for key, case in r["cases"].items()
                if case["problem"]]
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
