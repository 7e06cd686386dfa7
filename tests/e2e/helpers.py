"""What the browser tests share: open the dashboard and wait for it to be live, and submit,
read and wait for jobs over the API. Every wait polls until a deadline; none sleeps to hope.
The fixtures and the server are in conftest.py.
"""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import ConveyorServer

SLOW = 20_000  # ms: a job's whole life at TEXT_SECONDS_PER_CHAR=0.2, with room for a slow CI
POLL_SEC = 0.2  # between two looks at the API while waiting for something to happen

expect: Any
try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails in CI) with the reason
    expect = None


def expect_live(page: Any) -> None:
    """Wait for the Live indicator: until the page's socket is open it may miss the events
    a test then causes."""
    expect(page.get_by_test_id("live-indicator")).to_have_attribute(
        "data-live-status", "live", timeout=10_000
    )


def open_dashboard(page: Any, server: ConveyorServer, route: str = "") -> None:
    """Open the dashboard at `route` (a `#/...` hash, or none) and wait until it is live."""
    page.goto(f"{server.url}/{route}")
    expect_live(page)


def figure(row: Any, header: str) -> Any:
    """A row's cell by its column: a table cell on a laptop, a labelled figure on a phone."""
    return row.locator(f'td[data-label="{header}"]')


def _headers(api_key: str | None, tenant: str | None = None) -> dict[str, str]:
    headers = {} if api_key is None else {"X-API-Key": api_key}
    return headers if tenant is None else {**headers, "X-Tenant-Id": tenant}


def submit(server: ConveyorServer, body: dict[str, Any], *, api_key: str | None = None,
           tenant: str | None = None) -> str:
    """Submit one job over the API and return its id. With `tenant` (and an admin `api_key`
    to act for it) the job must come back as that tenant's."""
    response = server.post("/jobs", body, **_headers(api_key, tenant))
    assert response.status_code == 201, response.text
    if tenant is not None:
        assert response.json()["tenant"] == tenant
    job_id: str = response.json()["id"]
    return job_id


def get_job(server: ConveyorServer, job_id: str, *, api_key: str | None = None
            ) -> dict[str, Any]:
    """The job as the API has it now, not as the page shows it."""
    response = server.get(f"/jobs/{job_id}", **_headers(api_key))
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def statuses(server: ConveyorServer, job_ids: list[str], *, api_key: str | None = None
             ) -> list[str]:
    """Each job's status now, in order: what a wait, or a check that nothing moved, compares."""
    return [get_job(server, job_id, api_key=api_key)["status"] for job_id in job_ids]


def wait_for_status(server: ConveyorServer, job_ids: list[str], status: str, *,
                    api_key: str | None = None) -> None:
    """Poll the API until every job has `status`; fail after SLOW, showing what was seen."""
    timeout = SLOW / 1000
    deadline = time.monotonic() + timeout
    seen = statuses(server, job_ids, api_key=api_key)
    while seen != [status] * len(job_ids):
        assert time.monotonic() < deadline, f"not all {status} after {timeout} s: {seen}"
        time.sleep(POLL_SEC)
        seen = statuses(server, job_ids, api_key=api_key)
