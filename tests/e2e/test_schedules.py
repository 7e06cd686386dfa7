"""Schedules in the dashboard, in headless Chromium against a real `conveyor up`: schedules made
over the API are listed in the Schedules view with their timing, the switch disables and
enables one (the API says so after each click, and a disabled schedule fires nothing), and
the last run links to the job the tick made, whose page names the schedule and the tick.

Every wait on the page is Playwright's `expect(...)` with a deadline. The API is polled until
a deadline: for a job to fire, or, once, to see that a disabled schedule fires nothing
throughout a window longer than its interval (something *not* happening cannot be waited for).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.conftest import ConveyorServer, screenshot
from tests.e2e.helpers import POLL_SEC, SLOW, expect, figure, get_job, open_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.slow]

INTERVAL_SEC = 2
DISABLED_WINDOW_SEC = INTERVAL_SEC * 2.5  # more than two ticks a disabled schedule must skip


def create_schedule(server: ConveyorServer, body: dict[str, Any]) -> dict[str, Any]:
    response = server.post("/schedules", body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def get_schedule(server: ConveyorServer, name: str) -> dict[str, Any]:
    response = server.get(f"/schedules/{name}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def wait_for_enabled(server: ConveyorServer, name: str, enabled: bool) -> None:
    """The click's PATCH has been answered by the time the switch shows it; this is the API's
    side of it, polled in case of a slow store."""
    deadline = time.monotonic() + 5.0
    while get_schedule(server, name)["enabled"] is not enabled:
        assert time.monotonic() < deadline, f"schedule {name} not enabled={enabled} in the API"
        time.sleep(POLL_SEC)


def wait_for_new_job(server: ConveyorServer, name: str, other_than: str | None,
                     timeout: float = SLOW / 1000) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    schedule = get_schedule(server, name)
    while schedule["last_job_id"] in (None, other_than):
        assert time.monotonic() < deadline, f"schedule {name} fired no job in {timeout} s"
        time.sleep(POLL_SEC)
        schedule = get_schedule(server, name)
    return schedule


def assert_fires_nothing(server: ConveyorServer, name: str, seconds: float) -> None:
    """The schedule's last job is the same at every poll for `seconds`."""
    last = get_schedule(server, name)["last_job_id"]
    deadline = time.monotonic() + seconds
    while True:
        now = get_schedule(server, name)
        assert now["last_job_id"] == last, f"a disabled schedule fired: {now}"
        if time.monotonic() >= deadline:
            return
        time.sleep(POLL_SEC)


def schedule_row(page: Any, name: str) -> Any:
    return page.locator(f'tr[data-schedule="{name}"]')


def last_job_link(page: Any, name: str) -> Any:
    return schedule_row(page, name).get_by_role(
        "link", name=re.compile(rf"^Last job of schedule {name}"))


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def same_moment(iso_a: str, iso_b: str) -> bool:
    """The browser's `toISOString()` (milliseconds, Z) and the API's ISO (microseconds,
    +00:00) name the same instant, to the millisecond."""
    return abs((moment(iso_a) - moment(iso_b)).total_seconds()) < 0.001


def test_schedules_are_listed_switched_off_and_on_and_link_their_last_job(
    page: Any, start_server: Callable[..., ConveyorServer]
) -> None:
    server = start_server()
    open_dashboard(page, server)
    page.get_by_role("navigation", name="Views").get_by_role("link", name="Schedules").click()
    expect(page).to_have_url(re.compile(r"#/schedules$"))
    expect(page.get_by_role("heading", name="Schedules")).to_be_visible()
    expect(page.get_by_text("No schedules", exact=True)).to_be_visible()

    # A cron schedule, made over the API, appears by itself (the view polls while shown).
    nightly = create_schedule(server, {
        "name": "nightly", "task": "text", "payload": {"text": "hi"},
        "cron": "0 2 * * *", "timezone": "Europe/Berlin",
    })
    row = schedule_row(page, "nightly")
    expect(figure(row, "Runs")).to_have_text("0 2 * * *", timeout=10_000)
    expect(figure(row, "Task")).to_have_text("text")
    expect(figure(row, "Timezone")).to_have_text("Europe/Berlin")
    expect(figure(row, "Queue")).to_have_text("default")
    expect(figure(row, "Last run")).to_have_text("never")
    next_run = figure(row, "Next run").locator("time")
    expect(next_run).to_have_text(re.compile(r"^in \d+ (?:min|h)$"))
    assert same_moment(next_run.get_attribute("datetime"), nightly["next_run_at"]), nightly

    # Off in the browser: the API says so, and the row too.
    switch = row.get_by_role("switch", name="Enable schedule nightly")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    expect(switch).to_have_attribute("aria-checked", "false")
    expect(page.locator(".flash")).to_contain_text("Schedule nightly disabled")
    expect(figure(row, "Next run")).to_have_text("disabled")
    wait_for_enabled(server, "nightly", False)
    screenshot(page, "schedule_disabled")
    # And on again.
    switch.click()
    expect(switch).to_have_attribute("aria-checked", "true")
    expect(page.locator(".flash")).to_contain_text("Schedule nightly enabled")
    wait_for_enabled(server, "nightly", True)

    # An interval schedule fires: its last run links to the job its tick made.
    create_schedule(server, {
        "name": "tick", "task": "text", "payload": {"text": "hi"}, "interval_sec": INTERVAL_SEC,
    })
    tick = schedule_row(page, "tick")
    expect(figure(tick, "Runs")).to_have_text(f"every {INTERVAL_SEC} s", timeout=10_000)
    link = last_job_link(page, "tick")
    expect(link).to_be_visible(timeout=SLOW)
    fired = wait_for_new_job(server, "tick", None)
    assert fired["last_run_at"] is not None, fired

    # Off: no tick fires while it is, over more than two intervals.
    tick_switch = tick.get_by_role("switch", name="Enable schedule tick")
    tick_switch.click()
    expect(tick_switch).to_have_attribute("aria-checked", "false")
    wait_for_enabled(server, "tick", False)
    assert_fires_nothing(server, "tick", DISABLED_WINDOW_SEC)
    last_job = get_schedule(server, "tick")["last_job_id"]
    expect(link).to_have_attribute("href", f"#/jobs/{last_job}", timeout=10_000)
    screenshot(page, "schedules_view")

    # The link opens the job, whose page names its schedule and its tick.
    link.click()
    expect(page).to_have_url(re.compile(rf"#/jobs/{last_job}$"))
    expect(page.get_by_test_id("job-schedule")).to_have_text("tick")
    job = get_job(server, last_job)
    assert job["schedule"] == "tick", job
    tick_time = page.get_by_test_id("job-scheduled-for").locator("time")
    expect(tick_time).to_be_visible()
    assert same_moment(tick_time.get_attribute("datetime"), job["scheduled_for"]), job
    screenshot(page, "scheduled_job")

    # Back to the view and on again: it fires again, and the link follows by itself.
    page.get_by_test_id("job-schedule").click()
    expect(page).to_have_url(re.compile(r"#/schedules$"))
    tick_switch = schedule_row(page, "tick").get_by_role("switch", name="Enable schedule tick")
    tick_switch.click()
    expect(tick_switch).to_have_attribute("aria-checked", "true")
    wait_for_enabled(server, "tick", True)
    wait_for_new_job(server, "tick", last_job)
    link = last_job_link(page, "tick")
    expect(link).not_to_have_attribute("href", f"#/jobs/{last_job}", timeout=SLOW)

    # On a phone the row is a card of labelled figures, and nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 900})
    expect(tick_switch).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the Schedules view scrolls sideways by {overflow}px at 390px"
