"""The dashboard in headless Chromium against a real `conveyor up`: SEED.md's "Using the
Dashboard" walk-through, the API key flow, and the Live indicator across an API restart.

Every wait is Playwright's `expect(...)` or `wait_for_function` with a deadline; nothing sleeps.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import ConveyorServer, screenshot
from tests.e2e.helpers import SLOW, expect, open_dashboard, submit

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Records every status each "submitted from this page" row shows, as the DOM changes, so a
# state shown for a single frame is seen too.
RECORD_STATUSES = """
() => {
  window.__statuses = {};
  window.__loadedOnce = true;
  const record = () => {
    for (const row of document.querySelectorAll("li.recent__item[data-job-id]")) {
      const status = row.querySelector(".badge")?.dataset.status;
      const seen = (window.__statuses[row.dataset.jobId] ??= []);
      if (status && seen[seen.length - 1] !== status) seen.push(status);
    }
  };
  new MutationObserver(record).observe(document.body, {
    subtree: true, childList: true, characterData: true, attributes: true,
  });
  record();
}
"""


def test_hello_goes_pending_running_done_without_a_reload(
    page: Any, start_server: Callable[..., ConveyorServer]
) -> None:
    server = start_server()
    open_dashboard(page, server)
    expect(page.get_by_test_id("live-indicator")).to_contain_text("● Live")
    page.evaluate(RECORD_STATUSES)

    page.get_by_label("Text to process").fill("Hello")
    page.get_by_role("button", name="Submit job").click()

    row = page.locator("li.recent__item").filter(has_text="“Hello”")
    expect(row).to_have_count(1)
    job_id = row.get_attribute("data-job-id")
    assert job_id
    expect(row.locator(".badge")).to_have_attribute("data-status", "done", timeout=SLOW)
    seen = page.evaluate("id => window.__statuses[id]", job_id)
    assert seen == ["pending", "running", "done"], f"statuses shown: {seen}"
    assert page.evaluate("window.__loadedOnce") is True, "the page reloaded"

    # The Done list and the counts caught up by themselves too.
    expect(page.get_by_test_id("metric-done")).to_have_text("1", timeout=SLOW)
    page.get_by_role("tab", name=re.compile("^Done")).click()
    done_row = page.locator(f'tr[data-job-id="{job_id}"]')
    expect(done_row).to_contain_text("“Hello”")
    expect(done_row.locator(".badge")).to_have_attribute("data-status", "done")

    # The timeline tells the same story, from the store's event log.
    done_row.get_by_role("link").first.click()
    timeline = page.get_by_role("list", name=re.compile("Event timeline"))
    expect(timeline.locator("li")).to_have_count(3)
    types = timeline.locator("li").evaluate_all("items => items.map(i => i.dataset.eventType)")
    assert types == ["job_created", "job_leased", "job_succeeded"]
    screenshot(page, "hello_job_detail")


def test_fail_lands_in_the_dlq_and_retry_links_the_new_job(
    page: Any, start_server: Callable[..., ConveyorServer]
) -> None:
    server = start_server()
    open_dashboard(page, server, "#/dlq")
    expect(page.get_by_text("The dead letter queue is empty")).to_be_visible()

    page.get_by_role("button", name="Fail (→ DLQ)").click()
    dlq = page.get_by_role("tabpanel")
    row = dlq.locator("tbody tr").filter(has_text="Simulated failure for testing")
    expect(row).to_have_count(1, timeout=SLOW)
    original_id = row.get_attribute("data-job-id")
    assert original_id
    expect(row).to_contain_text("2 / 2")  # MAX_RETRIES=1: two attempts, then the DLQ
    screenshot(page, "dlq_with_reason")

    row.get_by_role("button", name=re.compile("^Retry job")).click()
    retried_link = row.get_by_role("link", name=re.compile("Retried as"))
    expect(retried_link).to_be_visible()
    new_id = retried_link.get_attribute("href").removeprefix("#/jobs/")
    assert new_id and new_id != original_id

    retried_link.click()
    expect(page.get_by_role("heading", name=re.compile("^Job "))).to_contain_text(new_id[-8:])
    retry_of = page.get_by_test_id("retry-of").get_by_role("link")
    expect(retry_of).to_have_attribute("href", f"#/jobs/{original_id}")
    # The new job has the same payload and is queued again (it will fail again, on purpose).
    expect(page.locator(".code").first).to_contain_text('"fail": true')
    screenshot(page, "retried_job_detail")

    retry_of.click()
    expect(page.get_by_test_id("retried-by").get_by_role("link")).to_have_attribute(
        "href", f"#/jobs/{new_id}"
    )


def test_with_an_api_key_the_page_asks_for_it_then_works(
    page: Any, start_server: Callable[..., ConveyorServer]
) -> None:
    server = start_server(API_KEY="secret")
    page.goto(server.url)
    problem = page.get_by_test_id("problem")
    expect(problem).to_contain_text("This server requires an API key.")
    expect(page.get_by_test_id("live-indicator")).not_to_have_attribute("data-live-status", "live")
    expect(page.get_by_test_id("metric-pending")).to_have_text("\N{EN DASH}")  # no data yet
    screenshot(page, "api_key_required")

    page.get_by_label("API key", exact=False).and_(page.locator("input")).fill("wrong")
    page.get_by_role("button", name="Save").click()
    expect(problem).to_contain_text("The API key was rejected.")

    page.get_by_label("API key", exact=False).and_(page.locator("input")).fill("secret")
    page.get_by_role("button", name="Save").click()
    expect(problem).to_be_empty()
    expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-live-status", "live")
    expect(page.get_by_test_id("metric-pending")).to_have_text("0")

    page.get_by_role("button", name="2 sec").click()
    row = page.locator("li.recent__item").filter(has_text="“Hi”")
    expect(row.locator(".badge")).to_have_attribute("data-status", "done", timeout=SLOW)

    # The key is kept in this browser: a reload needs no typing.
    page.reload()
    expect(page.get_by_test_id("live-indicator")).to_have_attribute("data-live-status", "live")
    expect(page.get_by_test_id("metric-done")).to_have_text("1")
    expect(problem).to_be_empty()


def test_live_indicator_goes_off_with_the_api_and_back_on_when_it_returns(
    page: Any, start_server: Callable[..., ConveyorServer]
) -> None:
    server = start_server()
    open_dashboard(page, server)
    indicator = page.get_by_test_id("live-indicator")
    expect(indicator).to_contain_text("Live")

    server.stop()
    expect(indicator).to_have_attribute("data-live-status", "offline", timeout=10_000)
    expect(indicator).to_contain_text("Offline")
    expect(page.get_by_test_id("problem")).to_contain_text("Cannot reach the API.", timeout=10_000)
    screenshot(page, "api_down")

    server.start()
    expect(indicator).to_have_attribute("data-live-status", "live", timeout=15_000)
    expect(page.get_by_test_id("problem")).to_be_empty(timeout=10_000)

    # Live again means events again: a job submitted elsewhere shows up without a reload.
    submit(server, {"text": "Back"})
    expect(page.get_by_test_id("metric-submitted")).to_have_text("1", timeout=10_000)
    expect(page.get_by_test_id("metric-done")).to_have_text("1", timeout=SLOW)


@pytest.mark.parametrize("width", [390, 1280])
def test_readable_on_a_phone_and_a_laptop_and_usable_by_keyboard(
    page: Any, start_server: Callable[..., ConveyorServer], width: int
) -> None:
    server = start_server()
    for body in ({"text": "Hi"}, {"text": "x" * 31}, {"payload": {"fail": True}}):
        submit(server, body)
    page.set_viewport_size({"width": width, "height": 900})
    open_dashboard(page, server, "#/dlq")
    rows = page.get_by_role("tabpanel").locator("tbody tr")
    expect(rows).to_have_count(2, timeout=SLOW)
    expect(rows.first.get_by_role("button", name=re.compile("^Retry job"))).to_be_visible()

    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
    screenshot(page, f"dlq_at_{width}px")

    # Keyboard: the skip link comes first; the job lists are tabs that arrow keys move between.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.get_by_role("tab", name=re.compile("^Dead letter queue")).focus()
    page.keyboard.press("Home")
    expect(page.get_by_role("tab", name=re.compile("^Pending"))).to_be_focused()
    expect(page.get_by_role("tab", name=re.compile("^Pending"))).to_have_attribute(
        "aria-selected", "true"
    )
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name=re.compile("^Done"))).to_be_focused()
    expect(page.get_by_role("tabpanel").locator("tbody tr")).to_have_count(1, timeout=SLOW)
