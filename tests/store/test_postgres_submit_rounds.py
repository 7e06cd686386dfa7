"""PostgreSQL: a submit that collided with a key whose holder is gone by the time it looks is
inserted again, in a second round (`producers._insert`); a job left alone for that round goes
as one job's scalars (`SUBMIT_ONE`), and every outcome is still the one it would have alone."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.models import NewJob, SubmitResult
from conveyor.store.base import Store
from conveyor.store.postgres import PostgresStore, producers
from conveyor.store.postgres import statements as sql

pytestmark = pytest.mark.postgres


class Recording:
    """A pooled connection whose statements are written down (and run as they are)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.statements: list[str] = []

    async def execute(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self.statements.append(query)
        return await self._conn.execute(query, *args, **kwargs)


async def test_a_job_left_for_a_second_round_goes_alone_as_scalars(
    postgres_store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert isinstance(postgres_store, PostgresStore)
    store = postgres_store
    holder = await store.submit(NewJob("text", {"text": "a"}, unique_key="k"))
    looked: list[str | None] = []
    existing = producers._existing

    async def gone_the_first_time(conn: Any, job: NewJob) -> SubmitResult | None:
        looked.append(job.unique_key)
        if len(looked) == 1:
            return None  # as if the holder had given the key up between insert and lookup
        return await existing(conn, job)

    monkeypatch.setattr(producers, "_existing", gone_the_first_time)
    fresh = NewJob("text", {"text": "b"})
    keyed = NewJob("text", {"text": "c"}, unique_key="k")
    async with store._pool.connection() as conn:
        recording = Recording(conn)
        outcomes = await producers.submit_each(recording, [fresh, keyed], None)  # type: ignore[arg-type]
    assert looked == ["k", "k"]  # looked up, inserted again, skipped again, looked up
    assert recording.statements.count(sql.SUBMIT) == 1
    assert recording.statements.count(sql.SUBMIT_ONE) == 1
    first, second = outcomes
    assert isinstance(first, SubmitResult) and first.created
    assert isinstance(second, SubmitResult) and second.unique_hit
    assert second.job.id == holder.job.id
    rows = await store.run_sql("SELECT count(*) AS n FROM job_events WHERE type = 'job_created'")
    assert rows[0]["n"] == 2  # the holder's and the fresh job's: none for the skipped insert
