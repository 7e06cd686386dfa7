"""Queue operations in the dashboard, in headless Chromium against a real `conveyor up`: the
Queues view, reached from the page's navigation, pauses `default` (new jobs stay pending, and
the view says so), then resumes it (the jobs run, and the figures follow).

Every wait on the page is Playwright's `expect(...)` with a deadline. The API is polled until a
deadline: for a status to come, or, once, to see that the paused jobs stay pending throughout a
window of a few seconds (something *not* happening cannot be waited for).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import ConveyorServer, screenshot
from tests.e2e.helpers import (
    POLL_SEC,
    SLOW,
    expect,
    figure,
    open_dashboard,
    statuses,
    submit,
    wait_for_status,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAUSED_WINDOW_SEC = 2.5  # how long the paused jobs must stay pending (workers poll every 0.2 s)


def assert_stay_pending(server: ConveyorServer, job_ids: list[str], seconds: float) -> None:
    """The jobs are pending at every poll for `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        seen = statuses(server, job_ids)
        assert seen == ["pending"] * len(job_ids), f"a job of a paused queue moved: {seen}"
        if time.monotonic() >= deadline:
            return
        time.sleep(POLL_SEC)


def get_queue(server: ConveyorServer, name: str) -> dict[str, Any]:
    response = server.get("/queues")
    assert response.status_code == 200, response.text
    queues: list[dict[str, Any]] = response.json()["queues"]
    found = [queue for queue in queues if queue["name"] == name]
    assert found, f"no queue {name} in {queues}"
    return found[0]


def queue_row(page: Any, name: str) -> Any:
    return page.locator(f'tr[data-queue="{name}"]')


def test_pausing_default_keeps_its_jobs_pending_until_it_is_resumed(
    page: Any, start_server: Callable[..., ConveyorServer]
) -> None:
    server = start_server()
    open_dashboard(page, server)
    page.get_by_role("navigation", name="Views").get_by_role("link", name="Queues").click()
    expect(page).to_have_url(re.compile(r"#/queues$"))
    expect(page.get_by_role("heading", name="Queues")).to_be_visible()
    # No job yet, nothing paused: no queue to show.
    expect(page.get_by_text("No queues to show")).to_be_visible()

    # A job through `default` lists it (it has a job that ended in the last minute).
    warm_up = submit(server, {"text": "hi"})
    row = queue_row(page, "default")
    expect(figure(row, "Done (1 min)")).to_have_text("1", timeout=SLOW)
    expect(figure(row, "State")).to_have_text("Active")
    wait_for_status(server, [warm_up], "done")

    row.get_by_role("button", name="Pause queue default").click()
    expect(page.locator(".flash")).to_contain_text("Queue default paused")
    expect(figure(row, "State")).to_have_text("Paused")
    expect(row.get_by_role("button", name="Resume queue default")).to_be_visible()
    assert get_queue(server, "default")["paused"] is True

    job_ids = [submit(server, {"text": "wait"}) for _ in range(2)]
    expect(figure(row, "Pending")).to_have_text("2", timeout=10_000)
    assert_stay_pending(server, job_ids, PAUSED_WINDOW_SEC)
    expect(figure(row, "Pending")).to_have_text("2")
    expect(figure(row, "Running")).to_have_text("0")
    expect(figure(row, "State")).to_have_text("Paused")
    expect(figure(row, "Oldest pending")).to_have_text(re.compile(r"^(?:< 1|\d+) s$"))
    queue = get_queue(server, "default")
    assert (queue["paused"], queue["pending"], queue["running"]) == (True, 2, 0), queue
    assert queue["oldest_pending_age_sec"] >= PAUSED_WINDOW_SEC, queue
    screenshot(page, "queue_paused")

    row.get_by_role("button", name="Resume queue default").click()
    expect(page.locator(".flash")).to_contain_text("Queue default resumed")
    expect(figure(row, "State")).to_have_text("Active")
    expect(row.get_by_role("button", name="Pause queue default")).to_be_visible()
    wait_for_status(server, job_ids, "done")

    # The view follows by itself: job events refetch it, and it polls while shown.
    expect(figure(row, "Pending")).to_have_text("0", timeout=SLOW)
    expect(figure(row, "Running")).to_have_text("0", timeout=SLOW)
    expect(figure(row, "Done (1 min)")).to_have_text("3", timeout=SLOW)
    expect(figure(row, "Oldest pending")).to_have_text("\N{EN DASH}")
    assert get_queue(server, "default")["paused"] is False
    screenshot(page, "queue_resumed")

    # On a phone the row is a card of labelled figures, and nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 900})
    expect(row.get_by_role("button", name="Pause queue default")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the Queues view scrolls sideways by {overflow}px at 390px"
    screenshot(page, "queues_at_390px")
