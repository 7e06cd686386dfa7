"""Job search (`Store.list_jobs` with a `JobFilter`) and bulk cancel (`Store.cancel_matching`),
on every driver: each filter alone and combined, across live and finished jobs, keyset pages
that stay stable while jobs are added, capped totals, the text indexes (and the scans that
stand in for them), and what a bulk cancel takes and records."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from conveyor.lifecycle import EventType, JobStatus
from conveyor.models import Ack, Fail, Job, JobId, NewJob
from conveyor.store import search as rules_of_search
from conveyor.store.base import RedriveFilter, RetentionPolicy, Store
from conveyor.store.search import JobFilter
from tests.store.sql import set_finished_at

LONG = 300.0
F = JobFilter


async def submit(store: Store, task: str = "t", *, tenant: str = "default",
                 queue: str = "default", payload: dict[str, object] | None = None,
                 trace_id: str | None = None) -> Job:
    return (await store.submit(NewJob(task, payload or {}, tenant=tenant, queue=queue,
                                      trace_id=trace_id))).job


async def finish(store: Store, job: Job, error: str | None = None) -> Job:
    """Lease `job` (the only pending one of its queue) and end it: done, or failed for good."""
    [lease] = await store.lease("w", [job.queue], 1, LONG)
    assert lease.job_id == job.id
    outcome = Ack(lease) if error is None else Fail(lease, error, permanent=True)
    await store.finish([outcome], "w")
    return await store.get(job.id)


async def index_now(store: Store, monkeypatch: pytest.MonkeyPatch) -> int:
    """On SQLite, run the text indexer now, up to this moment (`sqlite.search.index_search`,
    which store processes run every few seconds, a second behind); elsewhere nothing."""
    if getattr(store, "path", None) is None:
        return 0
    from conveyor.store.sqlite import search as sqlite_search

    monkeypatch.setattr(sqlite_search, "INDEX_SETTLE_SEC", 0.0)
    added: int = await store._write("index_search")  # type: ignore[attr-defined]
    return added


async def ids(store: Store, filter: JobFilter, limit: int = 100) -> list[JobId]:
    return [job.id for job in (await store.list_jobs(filter=filter, limit=limit)).jobs]


@pytest.fixture
async def history(store: Store) -> dict[str, Job]:
    """Jobs in every state, of two tenants, queues and tasks, with payloads and errors."""
    made = {
        "mail_done": await finish(store, await submit(
            store, "mail", tenant="acme", queue="q1",
            payload={"to": "alice@example.com"}, trace_id="tr-1")),
        "mail_failed": await finish(store, await submit(
            store, "mail", tenant="acme", queue="q1", payload={"to": "bob@example.com"}),
            error="SMTPError: 550 mailbox_unavailable 100%"),
        "report_failed": await finish(store, await submit(
            store, "report", tenant="globex", queue="q2", payload={"month": "2026-11"}),
            error="TimeoutError: report took too long"),
    }
    made["running"] = await submit(store, "report", tenant="globex", queue="q3",
                                   payload={"month": "2026-12"}, trace_id="tr-2")
    [lease] = await store.lease("w", ["q3"], 1, LONG)
    made["running"] = await store.get(lease.job_id)
    made["pending"] = await submit(store, "mail", tenant="acme", queue="q4",
                                   payload={"to": "carol@example.com"}, trace_id="tr-1")
    return made


async def test_each_filter_alone(store: Store, history: dict[str, Job]) -> None:
    h = {name: job.id for name, job in history.items()}
    everything = [h["pending"], h["running"], h["report_failed"], h["mail_failed"],
                  h["mail_done"]]
    assert await ids(store, F()) == everything  # newest first, live and finished merged
    assert await ids(store, F(status=JobStatus.FAILED)) == [h["report_failed"], h["mail_failed"]]
    assert await ids(store, F(status=JobStatus.RUNNING)) == [h["running"]]
    assert await ids(store, F(tenant="acme")) == [h["pending"], h["mail_failed"], h["mail_done"]]
    assert await ids(store, F(queue="q2")) == [h["report_failed"]]
    assert await ids(store, F(task="report")) == [h["running"], h["report_failed"]]
    assert await ids(store, F(trace_id="tr-1")) == [h["pending"], h["mail_done"]]
    prefix = str(h["mail_failed"]).replace("-", "")[:31]  # unique to it, whatever the clock
    assert await ids(store, F(id_prefix=prefix)) == [h["mail_failed"]]
    assert await ids(store, F(id_prefix=str(h["running"]).upper())) == [h["running"]]
    assert await ids(store, F(error="Error:")) == [h["report_failed"], h["mail_failed"]]
    assert await ids(store, F(error="smtperror")) == []  # case-sensitive
    assert await ids(store, F(error="100%")) == [h["mail_failed"]]  # no LIKE patterns
    assert await ids(store, F(error="x_u")) == [h["mail_failed"]]
    assert await ids(store, F(error="P_rror")) == []  # `_` is no wildcard either
    assert await ids(store, F(payload="example.com")) == [h["pending"], h["mail_failed"],
                                                         h["mail_done"]]
    assert await ids(store, F(payload="2026-1")) == [h["running"], h["report_failed"]]
    assert await ids(store, F(payload="al")) == [h["mail_done"]]  # shorter than a trigram
    assert await ids(store, F(ids=frozenset({h["pending"], h["mail_done"], uuid.uuid4()}))
                     ) == [h["pending"], h["mail_done"]]


async def test_filters_combine(store: Store, history: dict[str, Job]) -> None:
    h = {name: job.id for name, job in history.items()}
    assert await ids(store, F(tenant="acme", payload="example")) == [
        h["pending"], h["mail_failed"], h["mail_done"]]
    assert await ids(store, F(tenant="acme", status=JobStatus.FAILED, error="550")) == [
        h["mail_failed"]]
    assert await ids(store, F(tenant="globex", error="550")) == []
    assert await ids(store, F(error="Error", payload="example")) == [h["mail_failed"]]
    assert await ids(store, F(task="mail", trace_id="tr-1", status=JobStatus.PENDING)) == [
        h["pending"]]


async def test_time_ranges(store: Store, history: dict[str, Job]) -> None:
    h = {name: job.id for name, job in history.items()}
    done = history["mail_done"]
    assert done.finished_at is not None
    now = datetime.now(UTC)
    assert len(await ids(store, F(created_after=now - timedelta(hours=1)))) == 5
    assert await ids(store, F(created_before=now - timedelta(hours=1))) == []
    assert await ids(store, F(created_after=now + timedelta(hours=1))) == []
    created = history["pending"].created_at
    ms = timedelta(milliseconds=1)  # each job was made and ended more than 1 ms apart
    assert await ids(store, F(created_after=created - ms)) == [h["pending"]]
    assert h["pending"] not in await ids(store, F(created_before=created - ms))
    assert await ids(store, F(finished_before=done.finished_at + ms)) == [h["mail_done"]]
    assert await ids(store, F(finished_after=done.finished_at - ms, task="mail")) == [
        h["mail_failed"], h["mail_done"]]
    far = datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)
    assert len(await ids(store, F(created_after=far[0], created_before=far[1]))) == 5


async def test_keyset_pages_walk_everything_once_while_jobs_arrive(store: Store) -> None:
    made = [await submit(store, payload={"n": n}) for n in range(7)]
    seen: list[JobId] = []
    page = await store.list_jobs(limit=3)
    while True:
        seen += [job.id for job in page.jobs]
        await submit(store, payload={"late": True})  # newer: never on a later page
        if page.next_cursor is None:
            break
        page = await store.list_jobs(limit=3, after=page.next_cursor)
    assert seen == [job.id for job in reversed(made)]
    assert (await store.list_jobs(limit=3, after=made[0].id)).jobs == []
    filtered = await store.list_jobs(filter=F(payload="late"), limit=2)
    assert (filtered.total, filtered.total_exact, len(filtered.jobs)) == (3, True, 2)
    assert filtered.next_cursor == filtered.jobs[-1].id


async def test_a_filtered_total_stops_counting_at_the_cap(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(5):
        await submit(store, "capped", payload={"n": n})
    monkeypatch.setattr(rules_of_search, "TOTAL_CAP", 3)
    page = await store.list_jobs(filter=F(task="capped"), limit=2)
    assert (page.total, page.total_exact) == (3, False)
    exact = await store.list_jobs(filter=F(task="capped", payload='"n":'), limit=2)
    assert (exact.total, exact.total_exact) == (3, False)
    unfiltered = await store.list_jobs(limit=2)  # from the counters: exact, any size
    assert (unfiltered.total, unfiltered.total_exact) == (5, True)


async def test_common_text_is_scanned_rare_text_is_looked_up(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text test is answered by the index while it is rare among the newest rows, and by
    reading rows newest first when it is common: the same jobs either way. A common one is
    counted among the newest rows only (`COUNT_WINDOW`), a lower bound past them."""
    jobs = [await finish(store, await submit(store, payload={"n": n, "tag": "common"}),
                         error=f"boom {n}") for n in range(6)]
    await index_now(store, monkeypatch)
    for common_from in (10**9, 1):  # never common, then common from one match on
        monkeypatch.setattr(rules_of_search, "COMMON_IN_PROBE", common_from)
        assert await ids(store, F(payload="common")) == [j.id for j in reversed(jobs)]
        assert await ids(store, F(error="boom 3")) == [jobs[3].id]
        page = await store.list_jobs(filter=F(error="boom"), limit=4)
        assert [j.id for j in page.jobs] == [j.id for j in jobs[:1:-1]]
        assert (page.total, page.total_exact) == (6, True)
    monkeypatch.setattr(rules_of_search, "COUNT_WINDOW", 4)
    windowed = await store.list_jobs(filter=F(error="boom"), limit=2)
    assert (windowed.total, windowed.total_exact) == (4, False)
    assert len(windowed.jobs) == 2 and windowed.next_cursor is not None
    preview = await store.redrive(RedriveFilter(error="boom"), 10, dry_run=True)
    assert (preview.matched, preview.exact) == (4, False)
    done = await store.redrive(RedriveFilter(error="boom"), 10)
    assert len(done.redriven) == 6 and done.remaining == 0


async def test_deleted_jobs_leave_the_text_index(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = await finish(store, await submit(store, payload={"to": "gone@example.com"}),
                       error="vanishing error")
    await finish(store, await submit(store, payload={"to": "kept@example.com"}),
                 error="vanishing error")
    await index_now(store, monkeypatch)
    assert await ids(store, F(payload="gone@")) == [job.id]  # found while it is there
    await _age(store, job.id, days=30)
    pruned = await store.prune(RetentionPolicy.of({JobStatus.FAILED: 7}), "w", 100, 60)
    assert pruned.total == 1
    assert await ids(store, F(payload="gone@")) == []
    assert len(await ids(store, F(error="vanishing"))) == 1


async def _age(store: Store, job_id: uuid.UUID, days: int) -> None:
    await set_finished_at(store, job_id, datetime.now(UTC) - timedelta(days=days))


# -- bulk cancel --------------------------------------------------------------------------------


async def test_bulk_cancel_takes_live_matching_jobs_and_records_it(
    store: Store, history: dict[str, Job]
) -> None:
    extra = await submit(store, "mail", tenant="acme", queue="q4")
    preview = await store.cancel_matching(F(tenant="acme"), 100, dry_run=True)
    assert (preview.matched, preview.remaining, preview.cancelled) == (2, 2, [])
    assert (await store.get(history["pending"].id)).status is JobStatus.PENDING
    everyone = await store.cancel_matching(F(), 1000, dry_run=True)
    assert everyone.matched == 3  # the running job too; never finished ones

    result = await store.cancel_matching(F(tenant="acme"), 1, actor="key:abc")
    assert (result.matched, result.cancelled, result.remaining) == (
        2, [history["pending"].id], 1)  # oldest first
    rest = await store.cancel_matching(F(tenant="acme", created_before=result.as_of), 10)
    assert (rest.cancelled, rest.remaining) == ([extra.id], 0)
    [*_, event] = await store.job_events(history["pending"].id)
    assert event.type is EventType.CANCELLED
    assert event.data is not None
    filter = event.data.pop("filter")
    assert event.data == {"bulk": True, "actor": "key:abc"}
    assert filter == {"tenant": "acme", "created_before": result.as_of.isoformat()}

    running = await store.cancel_matching(F(status=JobStatus.RUNNING), 10)
    assert (running.cancelled, running.cancel_requested) == ([], [history["running"].id])
    job = await store.get(history["running"].id)
    assert (job.status, job.cancel_requested_at is not None) == (JobStatus.RUNNING, True)
    again = await store.cancel_matching(F(), 10)  # asked already: not matched again
    assert (again.matched, again.cancel_requested) == (0, [])
    assert (await store.cancel_matching(F(status=JobStatus.DONE), 10)).matched == 0


async def test_bulk_cancel_by_selection_and_the_call_start(store: Store) -> None:
    jobs = [await submit(store, payload={"n": n}) for n in range(4)]
    chosen = frozenset({jobs[1].id, jobs[3].id, uuid.uuid4()})
    result = await store.cancel_matching(F(ids=chosen), 10)
    assert (result.matched, sorted(result.cancelled)) == (2, sorted([jobs[1].id, jobs[3].id]))
    assert [j.status for j in [await store.get(j.id) for j in jobs]] == [
        JobStatus.PENDING, JobStatus.CANCELLED, JobStatus.PENDING, JobStatus.CANCELLED]
    later = await store.cancel_matching(F(created_before=result.as_of), 10, dry_run=True)
    assert later.matched == 2
    newer = await submit(store)
    done = await store.cancel_matching(F(created_before=result.as_of), 10)
    assert newer.id not in done.cancelled and len(done.cancelled) == 2
    assert (await store.get(newer.id)).status is JobStatus.PENDING


async def test_a_selection_with_a_scanned_text_is_counted_and_taken(store: Store) -> None:
    """`ids` with a text too short for the index (scanned): the selection's condition must
    sit in the scanned set's company (it was a list, unhashable) on both drivers."""
    jobs = [await submit(store, payload={"n": f"ab{n}"}) for n in range(3)]
    dead = [await finish(store, await submit(store, queue=f"q{n}", payload={"n": f"ab{n}"}),
                         error="e") for n in range(2)]
    chosen = F(ids=frozenset(job.id for job in jobs[:2]), payload="ab")
    assert (await store.cancel_matching(chosen, 0)).matched == 2
    assert sorted((await store.cancel_matching(chosen, 10)).cancelled) == sorted(
        job.id for job in jobs[:2])
    redrive = RedriveFilter(ids=frozenset({dead[0].id}), error="e")
    assert (await store.redrive(redrive, 0)).matched == 1
    assert [r.id for r in (await store.redrive(redrive, 10)).redriven] == [dead[0].id]


async def test_redrive_takes_a_selection_and_names_the_actor(store: Store) -> None:
    jobs = [await finish(store, await submit(store, payload={"n": n}), error="e")
            for n in range(3)]
    chosen = RedriveFilter(ids=frozenset({jobs[0].id, jobs[2].id}))
    assert (await store.redrive(chosen, 10, dry_run=True)).matched == 2
    result = await store.redrive(chosen, 10, actor="admin")
    assert sorted(r.id for r in result.redriven) == sorted([jobs[0].id, jobs[2].id])
    [*_, event] = await store.job_events(jobs[0].id)
    assert event.data is not None and event.data["actor"] == "admin"
    assert event.data["filter"]["ids"] == 2
    assert (await store.redrive(RedriveFilter(payload="1"), 10, dry_run=True)).matched == 1


async def test_the_sqlite_text_index_follows_every_change(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An external-content FTS5 index must be told every change exactly, or a later delete
    corrupts it: indexed in a batch, changed while indexed, moved back in time, pruned."""
    path = getattr(store, "path", None)
    if path is None:
        pytest.skip("SQLite's text index (PostgreSQL's GIN indexes follow their table)")
    gone = await finish(store, await submit(store, payload={"v": "second"}), error="e")
    kept = await finish(store, await submit(store, payload={"v": "first"}), error="old error")
    assert await index_now(store, monkeypatch) == 2
    assert await index_now(store, monkeypatch) == 0  # each job goes in once

    def behind_the_store() -> None:
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE jobs SET payload = ?, last_error = ? WHERE id = ?",
                         ('{"v":"rewritten"}', "new error", str(kept.id)))
            conn.execute("INSERT INTO jobs_text (jobs_text) VALUES ('integrity-check')")
    await asyncio.to_thread(behind_the_store)
    assert await ids(store, F(payload="rewritten")) == [kept.id]
    assert await ids(store, F(error="old error")) == []
    await _age(store, gone.id, days=30)
    assert (await store.prune(RetentionPolicy.of({JobStatus.FAILED: 7}), "w", 10, 60)).total == 1

    def check() -> None:
        with sqlite3.connect(path) as conn:
            conn.execute("INSERT INTO jobs_text (jobs_text) VALUES ('integrity-check')")
    await asyncio.to_thread(check)
    assert await ids(store, F(payload="second")) == []


async def test_a_windowed_count_reads_only_rows_that_pass_the_other_tests(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk action counts a common text among the newest rows that pass every other test:
    newer rows of another tenant never crowd a tenant's matches out, a rare text combined
    with it still counts, and a loop's `remaining` is 0 only when it is done. A list's total
    is a bounded read of the newest rows instead, a lower bound never below its page."""
    monkeypatch.setattr(rules_of_search, "COMMON_IN_PROBE", 2)  # "boom" is, "id1xyz" not
    monkeypatch.setattr(rules_of_search, "COUNT_WINDOW", 3)
    acme = [await finish(store, await submit(store, tenant="acme",
                                             payload={"k": f"id{n}xyz"}), error="boom")
            for n in range(2)]
    for _ in range(4):  # newer, another tenant's: they would fill a window of every row
        await finish(store, await submit(store, tenant="globex"), error="boom")
    page = await store.list_jobs(filter=F(tenant="acme", error="boom"))
    assert (len(page.jobs), page.total, page.total_exact) == (2, 2, False)
    preview = await store.redrive(RedriveFilter(tenant="acme", error="boom"), 10, dry_run=True)
    assert (preview.matched, preview.exact) == (2, True)
    both = await store.list_jobs(filter=F(error="boom", payload="id1xyz"))
    assert ([j.id for j in both.jobs], both.total) == ([acme[1].id], 1)
    first = await store.redrive(RedriveFilter(tenant="acme", error="boom"), 1)
    assert (len(first.redriven), first.remaining) == (1, 1)
    rest = await store.redrive(RedriveFilter(tenant="acme", error="boom",
                                             failed_before=first.as_of), 10)
    assert (len(rest.redriven), rest.remaining) == (1, 0)
    everyone = await store.redrive(RedriveFilter(error="boom"), 10, dry_run=True)
    assert (everyone.matched, everyone.exact) == (3, False)  # a lower bound: 4 remain


async def test_sqlite_indexes_text_in_batches_off_the_hot_path(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A finish writes nothing to the text index: the indexer adds finished jobs in a batch
    later, and until then a search finds them among the recently finished, the same way."""
    path = getattr(store, "path", None)
    if path is None:
        pytest.skip("SQLite's text index (PostgreSQL's GIN indexes follow their table)")
    jobs = [await finish(store, await submit(store, payload={"ref": f"ord-{n}-x"}),
                         error=f"code {n} refused") for n in range(3)]

    def indexed_rows() -> int:
        with sqlite3.connect(path) as conn:
            return int(conn.execute("SELECT count(*) FROM jobs_text_docsize").fetchone()[0])
    assert await asyncio.to_thread(indexed_rows) == 0
    before = [await ids(store, F(payload="ord-1-x")), await ids(store, F(error="code 2"))]
    assert before == [[jobs[1].id], [jobs[2].id]]
    from conveyor.store.sqlite import search as sqlite_search

    monkeypatch.setattr(sqlite_search, "INDEX_BATCH", 2)  # a batch, then the rest
    assert await index_now(store, monkeypatch) == 2
    assert await index_now(store, monkeypatch) == 1
    assert await asyncio.to_thread(indexed_rows) == 3
    monkeypatch.setattr(rules_of_search, "COMMON_IN_PROBE", 10**9)  # through the index
    assert [await ids(store, F(payload="ord-1-x")), await ids(store, F(error="code 2"))
            ] == before


async def test_a_page_of_no_jobs_still_counts_its_matches(store: Store) -> None:
    """`limit=0`: the total alone, the same on every driver, and no cursor to a next page."""
    for _ in range(3):
        await submit(store, tenant="acme")
    await submit(store, tenant="other")
    for page in (await store.list_jobs(tenant="acme", limit=0),
                 await store.list_jobs(filter=F(tenant="acme", task="t"), limit=0)):
        assert (page.jobs, page.total, page.total_exact, page.next_cursor) == ([], 3, True,
                                                                               None)
    page = await store.list_jobs(status=JobStatus.PENDING, limit=0)
    assert (page.jobs, page.total, page.next_cursor) == ([], 4, None)
