"""The dead letter queue's "Redrive by filter" and what is kept, in headless Chromium against a
real `conveyor up`: jobs fail for two reasons; the preview counts those of one reason; the
redrive, at a rate, retries exactly them call after call while its bar moves and its buttons
are off, and their new jobs wait pending (the queue is paused, so they stay observable rather
than failing again). The retention line says what the server keeps.

Every wait on the page is Playwright's `expect(...)` with a deadline; the API is polled until
a deadline for the jobs to fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.conftest import ConveyorServer, screenshot
from tests.e2e.helpers import SLOW, expect, get_job, open_dashboard, submit, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REJECTED = 5  # fail with "forbidden content": the ones redriven
INVALID = 2  # fail with "Invalid payload format": left alone
RATE = 2.0  # jobs a second: the dashboard asks for 4 a call, so two calls, ~2 s apart


def dry_run(server: ConveyorServer, body: dict[str, Any]) -> int:
    response = server.post("/dlq/redrive", {**body, "dry_run": True})
    assert response.status_code == 200, response.text
    matched: int = response.json()["matched"]
    return matched


def test_redrive_by_filter_retries_exactly_the_matching_jobs_at_a_rate(
    page: Any, start_server: Callable[..., ConveyorServer]
) -> None:
    server = start_server(RETENTION_DONE_DAYS="7", RETENTION_FAILED_DAYS="30")
    rejected = [submit(server, {"text": f"reject {n}"}) for n in range(REJECTED)]
    invalid = [submit(server, {"payload": {"text": "x", "invalid": True}}) for _ in range(INVALID)]
    wait_for_status(server, rejected + invalid, "failed")

    open_dashboard(page, server, "#/dlq")
    dlq = page.get_by_test_id("list-dlq")
    expect(dlq.locator("tr[data-job-id]")).to_have_count(REJECTED + INVALID, timeout=10_000)
    # What is kept: under the DLQ, and the whole policy in the footer.
    expect(page.get_by_test_id("retention-note")).to_have_text(
        "Failed jobs are kept 30 days after they finish, then deleted with their events.")
    expect(page.get_by_test_id("retention")).to_have_text(re.compile(
        r"^Finished jobs kept: done 7 days, failed 30 days, cancelled forever"))

    panel = page.get_by_test_id("redrive")
    panel.get_by_text("Redrive by filter", exact=True).click()
    redrive = panel.get_by_role("button", name=re.compile(r"^Redrive"))
    expect(redrive).to_be_disabled()  # nothing counted yet

    # Preview: the count of this filter, as a dry run of the API's says.
    panel.get_by_label("Task").fill("text")
    panel.get_by_label("Error contains").fill("forbidden content")
    panel.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("redrive-preview")).to_have_text(f"{REJECTED} jobs match.")
    assert dry_run(server, {"task": "text", "error": "forbidden content"}) == REJECTED
    # Another filter is another count.
    panel.get_by_label("Error contains").fill("Invalid payload")
    expect(page.get_by_test_id("redrive-preview")).to_have_text("")
    panel.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("redrive-preview")).to_have_text(f"{INVALID} jobs match.")
    panel.get_by_label("Error contains").fill("forbidden content")
    panel.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("redrive-preview")).to_have_text(f"{REJECTED} jobs match.")

    # The new jobs must stay observable: paused, their queue keeps them pending.
    assert server.post("/queues/default/pause", {}).status_code == 200

    panel.get_by_label("Rate (jobs/s)").fill(str(RATE))
    panel.get_by_role("button", name=f"Redrive {REJECTED}").click()
    # While it runs, nothing else can be started, and the bar is there.
    expect(panel.get_by_role("button", name="Redriving…")).to_be_disabled()
    expect(panel.get_by_role("button", name="Preview")).to_be_disabled()
    expect(panel.get_by_label("Task")).to_be_disabled()
    bar = panel.get_by_role("progressbar", name="Redrive progress")
    expect(bar).to_be_visible()
    screenshot(page, "redrive_running")

    expect(page.get_by_test_id("redrive-message")).to_have_text(
        re.compile(rf"^Redrove {REJECTED} jobs"), timeout=SLOW)
    expect(bar).to_have_attribute("aria-valuetext", f"100%, {REJECTED} of {REJECTED} redriven")
    expect(panel.get_by_role("button", name="Preview")).to_be_enabled()
    expect(panel.get_by_role("button", name="Redrive", exact=True)).to_be_disabled()

    # Exactly the matching jobs were redriven, each as a new pending job, at the rate.
    originals = [get_job(server, job_id) for job_id in rejected]
    assert all(job["retried_by"] for job in originals), originals
    copies = [get_job(server, job["retried_by"]) for job in originals]
    assert [job["status"] for job in copies] == ["pending"] * REJECTED, copies
    assert [job["retry_of"] for job in copies] == rejected
    assert [get_job(server, job_id)["retried_by"] for job_id in invalid] == [None] * INVALID
    created = sorted(datetime.fromisoformat(job["created_at"]) for job in copies)
    spread = (created[-1] - created[0]).total_seconds()
    assert spread >= (REJECTED - 1) / RATE * 0.75, f"{REJECTED} jobs in {spread} s at {RATE}/s"
    assert dry_run(server, {"task": "text", "error": "forbidden content"}) == 0

    # The DLQ rows say where each went; the invalid ones can still be retried.
    for job in originals:
        row = dlq.locator(f'tr[data-job-id="{job["id"]}"]')
        expect(row.get_by_role("link", name=re.compile(r"^Retried as"))).to_have_attribute(
            "href", f"#/jobs/{job['retried_by']}")
    for job_id in invalid:
        expect(dlq.locator(f'tr[data-job-id="{job_id}"]').get_by_role(
            "button", name=re.compile(r"^Retry job"))).to_be_visible()
    screenshot(page, "redrive_done")

    # And the new jobs are in the pending list.
    page.get_by_role("tab", name=re.compile(r"^Pending")).click()
    pending = page.get_by_test_id("list-pending")
    for job in copies:
        expect(pending.locator(f'tr[data-job-id="{job["id"]}"]')).to_be_visible(timeout=10_000)
    expect(page.get_by_test_id("retention-note")).to_have_count(0)  # pending jobs are not pruned
