"""Bulk actions in headless Chromium against a real `conveyor up`.

Retry all matching: jobs fail for two reasons; the DLQ is searched for one; "Retry all
matching" previews the count with a dry run ("N jobs match — Retry N?"), and once confirmed
retries exactly them, call after call at a rate, with a progress bar and a Stop button while
it runs; their new jobs wait pending (the queue is paused). Cancel selected: of five pending
jobs three rows are ticked, previewed and cancelled; the other two stay pending.

Every wait on the page is Playwright's `expect(...)` with a deadline; the API is polled until
a deadline for the jobs to end.
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

FAST = {"TEXT_SECONDS_PER_CHAR": "0.01", "RATE_LIMIT_PER_MINUTE": "100000"}
REJECTED = 10  # "forbidden content": retried
INVALID = 3  # "Invalid payload format": left alone
RATE = 3.0  # jobs a second: 6 a call, so two calls about 2 s apart


def test_retry_all_matching_previews_then_retries_them_with_progress(
    page: Any, start_server: Callable[..., ConveyorServer]
) -> None:
    server = start_server(**FAST)
    rejected = [submit(server, {"text": f"reject {n}"}) for n in range(REJECTED)]
    invalid = [submit(server, {"payload": {"text": "x", "invalid": True}}) for _ in range(INVALID)]
    wait_for_status(server, rejected + invalid, "failed")
    # The new jobs must stay observable: paused, their queue keeps them pending.
    assert server.post("/queues/default/pause", {}).status_code == 200

    open_dashboard(page, server, "#/dlq")
    dlq = page.get_by_test_id("list-dlq")
    expect(dlq.locator("tr[data-job-id]")).to_have_count(REJECTED + INVALID, timeout=10_000)
    page.get_by_test_id("filter-bar").get_by_label("Error contains").fill("forbidden content")
    expect(dlq.locator("tr[data-job-id]")).to_have_count(REJECTED)

    bulk = page.get_by_test_id("bulk-bar")
    bulk.get_by_label("Rate (jobs/s)").fill(str(RATE))
    bulk.get_by_role("button", name="Retry all matching").click()
    # The preview: a count, and nothing has happened yet.
    expect(bulk.get_by_test_id("bulk-preview")).to_have_text(
        f"{REJECTED} jobs match — Retry {REJECTED}?")
    assert all(get_job(server, job_id)["retried_by"] is None for job_id in rejected)
    screenshot(page, "bulk_retry_preview")

    bulk.get_by_role("button", name=f"Retry {REJECTED} jobs").click()
    bar = bulk.get_by_role("progressbar", name="Bulk progress")
    expect(bar).to_be_visible()
    # While it runs: a Stop button, and no second bulk action can start.
    expect(bulk.get_by_role("button", name="Stop")).to_be_visible()
    expect(bulk.get_by_role("button", name="Retry all matching")).to_be_disabled()
    # Part way: the first call's jobs are counted before the second call ends.
    expect(bar).to_have_attribute(
        "aria-valuetext", re.compile(rf"^\d+%, [1-9] of {REJECTED} retried$"))
    screenshot(page, "bulk_retry_running")

    expect(bulk.get_by_test_id("bulk-message")).to_have_text(
        re.compile(rf"^Retried {REJECTED} jobs"), timeout=SLOW)
    expect(bar).to_have_attribute("aria-valuetext", f"100%, {REJECTED} of {REJECTED} retried")
    expect(bulk.get_by_role("button", name="Stop")).to_have_count(0)

    # Exactly the matching jobs, each as a new pending job; the others are left alone.
    originals = [get_job(server, job_id) for job_id in rejected]
    assert all(job["retried_by"] for job in originals), originals
    copies = [get_job(server, job["retried_by"]) for job in originals]
    assert [job["status"] for job in copies] == ["pending"] * REJECTED
    assert [get_job(server, job_id)["retried_by"] for job_id in invalid] == [None] * INVALID
    created = sorted(datetime.fromisoformat(job["created_at"]) for job in copies)
    # At RATE jobs a second, in calls of 2 x RATE: the last call comes about 2 s after the
    # first (all at once would be milliseconds apart).
    assert (created[-1] - created[0]).total_seconds() >= 1.0, created
    # The rows say where each went.
    for job in originals:
        row = dlq.locator(f'tr[data-job-id="{job["id"]}"]')
        expect(row.get_by_role("link", name=re.compile(r"^Retried as"))).to_be_visible()
    screenshot(page, "bulk_retry_done")


def test_cancel_selected_cancels_exactly_the_rows_ticked(
    page: Any, start_server: Callable[..., ConveyorServer]
) -> None:
    server = start_server(**FAST)
    assert server.post("/queues/default/pause", {}).status_code == 200
    pending = [submit(server, {"text": f"wait {n}"}) for n in range(5)]

    open_dashboard(page, server, "#/pending")
    rows = page.get_by_test_id("list-pending").locator("tr[data-job-id]")
    expect(rows).to_have_count(len(pending), timeout=10_000)
    picked = pending[:3]
    for job_id in picked:
        page.locator(f'tr[data-job-id="{job_id}"]').get_by_role("checkbox").check()
    bulk = page.get_by_test_id("bulk-bar")
    expect(bulk.get_by_test_id("bulk-selected")).to_have_text("3 jobs selected")

    bulk.get_by_role("button", name="Cancel selected").click()
    expect(bulk.get_by_test_id("bulk-preview")).to_have_text("3 jobs match — Cancel 3?")
    assert [get_job(server, job_id)["status"] for job_id in pending] == ["pending"] * 5
    bulk.get_by_role("button", name="Cancel 3 jobs").click()
    expect(bulk.get_by_test_id("bulk-message")).to_have_text(re.compile(r"^Cancelled 3 jobs\."))
    expect(bulk.get_by_role("progressbar", name="Bulk progress")).to_have_attribute(
        "aria-valuetext", "100%, 3 of 3 cancelled")

    assert [get_job(server, job_id)["status"] for job_id in picked] == ["cancelled"] * 3
    assert [get_job(server, job_id)["status"] for job_id in pending[3:]] == ["pending"] * 2
    # The list follows: the cancelled rows leave it, the selection is cleared.
    expect(rows).to_have_count(2, timeout=10_000)
    expect(bulk.get_by_test_id("bulk-selected")).to_have_text("No rows selected")
    screenshot(page, "bulk_cancel_done")
