"""`GET /retention` on every driver: the settings' days per status and what was deleted."""

from __future__ import annotations

from conveyor.models import Ack, JobStatus, NewJob
from conveyor.store.base import RetentionPolicy
from tests.api.conftest import AppFactory


def test_retention_is_off_by_default(make_client: AppFactory) -> None:
    body = make_client().get("/retention").json()
    assert body == {"enabled": False,
                    "days": {"done": None, "failed": None, "cancelled": None},
                    "last_run_at": None, "pruned_jobs_total": 0}


def test_retention_shows_the_days_kept_and_what_was_pruned(make_client: AppFactory) -> None:
    client = make_client(retention_days=7, retention_failed_days=30,
                         retention_cancelled_days=0, api_key="k")
    assert client.get("/retention").status_code == 401
    store = client.app.state.store  # type: ignore[attr-defined]
    portal = client.portal
    assert portal is not None  # the client is entered: the app's loop runs in its portal

    async def one_old_done_job() -> None:
        job = (await store.submit(NewJob("text", {"text": "a"}))).job
        [lease] = await store.lease("w", ["default"], 1, 300)
        await store.finish([Ack(lease, None)], "w")
        await store.submit(NewJob("text", {"text": "newest"}, delay_sec=3600))
        pruned = await store.prune(RetentionPolicy.of({JobStatus.DONE: 1e-9}), "w", 10, 60)
        assert pruned.jobs == {JobStatus.DONE: 1}, job.id

    portal.call(one_old_done_job)
    body = client.get("/retention", headers={"X-API-Key": "k"}).json()
    assert body["enabled"] is True
    assert body["days"] == {"done": 7, "failed": 30, "cancelled": None}
    assert body["pruned_jobs_total"] == 1 and body["last_run_at"] is not None
    metrics = client.get("/metrics", headers={"X-API-Key": "k"}).json()
    assert metrics["done"] == 1 and metrics["jobs_submitted"] == 2
    assert client.get("/jobs", params={"status": "done"},
                      headers={"X-API-Key": "k"}).json()["total"] == 0
