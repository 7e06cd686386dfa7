"""Searching the job lists in headless Chromium against a real `conveyor up`: jobs fail for
two reasons; the filter bar narrows the Failed list by error text, then by a payload
substring as well (AND); the filter is in the page address, and that address opened in a
fresh browser context (no state shared) shows the same filtered list with its fields filled.
The "All" tab searches across statuses.

Every wait on the page is Playwright's `expect(...)` with a deadline; the API is polled until
a deadline for the jobs to end.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import VIEWPORT, ConveyorServer, screenshot
from tests.e2e.helpers import expect, expect_live, open_dashboard, submit, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FAST = {"TEXT_SECONDS_PER_CHAR": "0.01", "RATE_LIMIT_PER_MINUTE": "100000"}


def row_ids(page: Any, testid: str) -> set[str]:
    ids: list[str] = page.get_by_test_id(testid).locator("tr[data-job-id]").evaluate_all(
        "rows => rows.map(row => row.dataset.jobId)")
    return set(ids)


def test_a_search_narrows_the_list_and_its_address_reopens_it(
    page: Any, browser: Any, start_server: Callable[..., ConveyorServer]
) -> None:
    server = start_server(**FAST)
    rejected = [submit(server, {"text": f"reject {name}"}) for name in ("alpha", "bravo", "carol")]
    invalid = [submit(server, {"payload": {"text": "alpha", "invalid": True}}) for _ in range(2)]
    done = [submit(server, {"text": f"fine {n}"}) for n in range(3)]
    wait_for_status(server, rejected + invalid, "failed")
    wait_for_status(server, done, "done")

    open_dashboard(page, server, "#/failed")
    failed = page.get_by_test_id("list-failed")
    expect(failed.locator("tr[data-job-id]")).to_have_count(len(rejected) + len(invalid),
                                                             timeout=10_000)
    bar = page.get_by_test_id("filter-bar")

    # One field: the error text.
    bar.get_by_label("Error contains").fill("forbidden content")
    expect(page).to_have_url(re.compile(r"#/failed\?error=forbidden\+content$"))
    expect(failed.locator("tr[data-job-id]")).to_have_count(len(rejected))
    assert row_ids(page, "list-failed") == set(rejected)
    shown = f"1\N{EN DASH}{len(rejected)} of {len(rejected)}"
    expect(page.get_by_test_id("list-range")).to_have_text(shown)

    # Two fields, combined: the error text and a payload substring.
    bar.get_by_label("Payload contains").fill("bravo")
    expect(page).to_have_url(re.compile(r"error=forbidden\+content&payload=bravo$"))
    expect(failed.locator("tr[data-job-id]")).to_have_count(1)
    assert row_ids(page, "list-failed") == {rejected[1]}
    screenshot(page, "search_failed_filtered")

    # The address is the search: a fresh context (no storage, no history) shows the same list.
    shared = page.url
    assert parse_qs(urlsplit(shared).fragment.split("?", 1)[1]) == {
        "error": ["forbidden content"], "payload": ["bravo"]}
    other = browser.new_context(viewport=VIEWPORT)
    try:
        fresh = other.new_page()
        fresh.goto(shared)
        expect_live(fresh)
        fresh_failed = fresh.get_by_test_id("list-failed")
        expect(fresh_failed.locator("tr[data-job-id]")).to_have_count(1, timeout=10_000)
        assert row_ids(fresh, "list-failed") == {rejected[1]}
        fresh_bar = fresh.get_by_test_id("filter-bar")
        expect(fresh_bar.get_by_label("Error contains")).to_have_value("forbidden content")
        expect(fresh_bar.get_by_label("Payload contains")).to_have_value("bravo")
        expect(fresh.get_by_role("tab", name=re.compile("^Failed"))).to_have_attribute(
            "aria-selected", "true")
        screenshot(fresh, "search_reopened")
    finally:
        other.close()

    # Across statuses: "All" keeps the search; a payload that only done jobs have.
    bar.get_by_role("button", name="Clear filters").click()
    expect(page).to_have_url(re.compile(r"#/failed$"))
    page.get_by_role("tab", name=re.compile("^All")).click()
    bar.get_by_label("Payload contains").fill("fine")
    expect(page).to_have_url(re.compile(r"#/all\?payload=fine$"))
    every = page.get_by_test_id("list-all")
    expect(every.locator("tr[data-job-id]")).to_have_count(len(done))
    assert row_ids(page, "list-all") == set(done)
    bar.get_by_label("Payload contains").fill("nothing matches this")
    expect(every.get_by_text("No job matches this search")).to_be_visible()
