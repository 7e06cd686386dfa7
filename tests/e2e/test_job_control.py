"""Job control in the dashboard, in headless Chromium against a real `conveyor up`: cancelling a
scheduled job and a running one (whose progress bar moves first), and a failed attempt's
traceback, folded in the job's history.

Every wait is Playwright's `expect(...)` or `wait_for_function` with a deadline; nothing sleeps.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import ConveyorServer, screenshot
from tests.e2e.helpers import SLOW, expect, get_job, open_dashboard, submit

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Records, for every list row, each status its badge shows and each progress its bar shows, as
# the DOM changes: a row that leaves its list (a cancelled job, once the list is refetched) may
# show its last state for a moment only.
RECORD_ROWS = """
() => {
  window.__rows = {};
  const record = () => {
    for (const row of document.querySelectorAll("tr[data-job-id]")) {
      const seen = (window.__rows[row.dataset.jobId] ??= { statuses: [], progress: [] });
      const status = row.querySelector(".badge")?.dataset.status;
      if (status && seen.statuses[seen.statuses.length - 1] !== status) seen.statuses.push(status);
      const bar = row.querySelector("[role=progressbar]");
      const value = bar === null ? null : Number(bar.getAttribute("aria-valuenow"));
      const last = seen.progress[seen.progress.length - 1];
      if (value !== null && last !== value) seen.progress.push(value);
    }
  };
  new MutationObserver(record).observe(document.body, {
    subtree: true, childList: true, characterData: true, attributes: true,
  });
  record();
}
"""

LAST_STATUS_IS = """
([id, status]) => {
  const seen = window.__rows[id]?.statuses ?? [];
  return seen[seen.length - 1] === status;
}
"""

NOT_ZERO = re.compile(r"^(?:[1-9]\d*(?:\.\d+)?|0\.\d*[1-9]\d*)$")


def recorded(page: Any, job_id: str) -> dict[str, list[Any]]:
    seen: dict[str, list[Any]] = page.evaluate("id => window.__rows[id]", job_id)
    return seen


def test_cancel_a_scheduled_job_and_find_it_in_the_cancelled_list(
    page: Any, start_server: Callable[..., ConveyorServer]
) -> None:
    server = start_server()
    job_id = submit(server, {"text": "later", "delay_sec": 600})
    open_dashboard(page, server)  # the Pending list
    page.evaluate(RECORD_ROWS)

    row = page.locator(f'tr[data-job-id="{job_id}"]')
    expect(row.locator(".badge")).to_have_attribute("data-status", "pending")
    expect(row.get_by_role("button", name=re.compile("^Retry job"))).to_have_count(0)
    row.get_by_role("button", name=f"Cancel job {job_id[-8:]}").click()

    expect(page.locator(".flash")).to_contain_text(f"Job {job_id[-8:]} cancelled.")
    page.wait_for_function(LAST_STATUS_IS, arg=[job_id, "cancelled"], timeout=10_000)
    assert recorded(page, job_id)["statuses"] == ["pending", "cancelled"]
    expect(page.get_by_test_id("metric-cancelled")).to_have_text("1")
    expect(page.get_by_test_id("metric-pending")).to_have_text("0")

    page.get_by_role("tab", name=re.compile("^Cancelled")).click()
    cancelled_row = page.get_by_role("tabpanel").locator(f'tr[data-job-id="{job_id}"]')
    expect(cancelled_row.locator(".badge")).to_have_attribute("data-status", "cancelled")
    expect(cancelled_row).to_contain_text("“later”")
    expect(cancelled_row.get_by_role("button", name=re.compile("^Retry job"))).to_be_visible()
    expect(cancelled_row.get_by_role("button", name=re.compile("^Cancel job"))).to_have_count(0)
    screenshot(page, "cancelled_list")

    # Its page tells the same story, from the store's event log.
    cancelled_row.get_by_role("link").first.click()
    expect(page.locator(".detail__status .badge")).to_have_attribute("data-status", "cancelled")
    timeline = page.get_by_role("list", name=re.compile("Event timeline"))
    expect(timeline.locator("li")).to_have_count(2)
    types = timeline.locator("li").evaluate_all("items => items.map(i => i.dataset.eventType)")
    assert types == ["job_created", "job_cancelled"]
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    assert get_job(server, job_id)["status"] == "cancelled"


def test_a_running_job_shows_its_progress_then_stops_when_cancelled(
    page: Any, start_server: Callable[..., ConveyorServer]
) -> None:
    server = start_server()
    open_dashboard(page, server, "#/running")
    page.evaluate(RECORD_ROWS)
    job_id = submit(server, {"text": "abcdefghijklmnopqrstuvwxyz0123"})  # 30 chars: 6 s

    row = page.locator(f'tr[data-job-id="{job_id}"]')
    expect(row.locator(".badge")).to_have_attribute("data-status", "running", timeout=SLOW)
    bar = row.get_by_role("progressbar")
    expect(bar).to_have_attribute("aria-valuenow", NOT_ZERO, timeout=10_000)
    expect(row.locator(".progress__percent")).to_have_text(re.compile(r"^\d+%$"))
    expect(row.locator(".progress")).to_have_attribute(
        "title", re.compile(r"^\d+/30 characters$")
    )
    screenshot(page, "running_with_progress")

    row.get_by_role("button", name=f"Cancel job {job_id[-8:]}").click()
    expect(page.locator(".flash")).to_contain_text(
        f"Job {job_id[-8:]}: cancellation requested \N{EM DASH} it stops shortly."
    )
    page.wait_for_function(LAST_STATUS_IS, arg=[job_id, "cancelled"], timeout=SLOW)

    seen = recorded(page, job_id)
    assert seen["statuses"] == ["running", "cancelled"], f"statuses shown: {seen['statuses']}"
    progress = seen["progress"]
    assert progress and max(progress) > 0, f"progress shown: {progress}"
    assert progress == sorted(progress), f"the bar went back: {progress}"
    assert max(progress) < 100, f"the job finished before the cancel landed: {progress}"

    job = get_job(server, job_id)
    assert job["status"] == "cancelled", job
    assert job["cancel_requested_at"] is not None, job
    assert job["progress"] is not None and 0 < job["progress"] < 1, job

    page.get_by_role("tab", name=re.compile("^Cancelled")).click()
    cancelled_row = page.get_by_role("tabpanel").locator(f'tr[data-job-id="{job_id}"]')
    expect(cancelled_row.locator(".badge")).to_have_attribute("data-status", "cancelled")


def test_a_failed_attempts_traceback_is_folded_until_opened(
    page: Any, start_server: Callable[..., ConveyorServer]
) -> None:
    server = start_server()
    job_id = submit(server, {"payload": {"text": "x", "fail": True}, "max_retries": 0})
    open_dashboard(page, server, f"#/jobs/{job_id}")
    expect(page.locator(".detail__status .badge")).to_have_attribute(
        "data-status", "failed", timeout=SLOW
    )

    failed = page.locator('li[data-event-type="job_failed"]')
    expect(failed).to_have_count(1)
    expect(failed.locator(".timeline__error")).not_to_be_empty()
    details = failed.locator("details.traceback")
    summary = details.locator("summary")
    expect(summary).to_have_text("Traceback (SimulatedFailure)")
    text = details.locator("pre")
    expect(details).not_to_have_attribute("open", re.compile(".*"))
    expect(text).to_be_hidden()
    screenshot(page, "traceback_folded")

    summary.click()
    expect(details).to_have_attribute("open", "")
    expect(text).to_be_visible()
    expect(text).to_contain_text("Traceback (most recent call last)")
    expect(text).to_contain_text("SimulatedFailure")
    style = text.evaluate("e => [getComputedStyle(e).fontFamily, getComputedStyle(e).overflow]")
    assert "mono" in style[0].lower(), f"not monospace: {style[0]}"
    assert style[1] == "auto", f"does not scroll: {style[1]}"
    screenshot(page, "traceback_open")


def test_the_submit_form_schedules_a_job_with_a_timeout(
    page: Any, start_server: Callable[..., ConveyorServer]
) -> None:
    server = start_server()
    open_dashboard(page, server)
    # The browser runs in this machine's time zone: the moment typed is local to both.
    when = (datetime.now().astimezone() + timedelta(hours=2, minutes=30)).replace(
        second=0, microsecond=0)
    page.get_by_label("Text to process").fill("Scheduled")
    page.get_by_label("Run at").fill(when.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Timeout (s)").fill("45")
    page.get_by_role("button", name="Submit job").click()

    row = page.locator("li.recent__item").filter(has_text="“Scheduled”")
    expect(row.locator(".badge")).to_have_attribute("data-status", "pending")
    job_id = row.get_attribute("data-job-id")
    assert job_id
    job = get_job(server, job_id)
    assert datetime.fromisoformat(job["run_at"]) == when, job
    assert job["timeout_sec"] == 45, job

    row.get_by_role("link").click()
    expect(page.get_by_test_id("scheduled")).to_contain_text("Scheduled for")
    expect(page.get_by_test_id("scheduled")).to_contain_text("(in 2 h)")
    expect(page.locator(".field").filter(has_text="Timeout")).to_contain_text("45 s per attempt")
