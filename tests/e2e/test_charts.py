"""The Charts view in headless Chromium against a real `conveyor up`: the worker samples each
ended minute into the store (offering every half second here, STATS_SAMPLE_SEC); jobs run,
some fail, and three wait in a paused queue. Once the minute they ended in has been sampled
(up to a minute of waiting: a minute's sample is written when it has ended), the charts show
the paused queue's depth and oldest pending age, the run and wait percentiles and the
failures by task, and show them again after a reload (the data is the server's, not the
page's) and for another window.

Every wait on the page is Playwright's `expect(...)` with a deadline; the API is polled until
a deadline for the samples.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import ConveyorServer, screenshot
from tests.e2e.helpers import expect, submit

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SAMPLED_SEC = 100.0  # the minute the jobs end in must end, then be sampled
POLL_SEC = 0.5
HELD = 3  # pending in the paused queue


def stats(server: ConveyorServer, what: str) -> list[dict[str, Any]]:
    response = server.get(f"/stats/{what}?minutes=60")
    assert response.status_code == 200, response.text
    body: dict[str, list[dict[str, Any]]] = response.json()
    return body["samples" if what == "queues" else "buckets"]


def legend(page: Any, testid: str) -> Any:
    return page.get_by_test_id(testid).get_by_test_id("chart-series")


def test_charts_show_what_the_worker_sampled_and_keep_it_across_a_reload(
    page: Any, start_server: Callable[..., ConveyorServer]
) -> None:
    server = start_server(TEXT_SECONDS_PER_CHAR="0.02", RATE_LIMIT_PER_MINUTE="100000",
                          STATS_SAMPLE_SEC="0.5")
    assert server.post("/queues/held/pause", {}).status_code == 200
    for n in range(HELD):
        submit(server, {"text": f"held {n}", "queue": "held"})
    for n in range(6):
        submit(server, {"text": f"quick {n}"})
    for n in range(2):
        submit(server, {"text": f"reject {n}"})

    # Poll the API until the worker sampled a minute in which the jobs ended.
    deadline = time.monotonic() + SAMPLED_SEC
    while not (stats(server, "latency") and stats(server, "failures")):
        assert time.monotonic() < deadline, (
            f"no latency or failure sample after {SAMPLED_SEC}s:\n{server.logs()}")
        time.sleep(POLL_SEC)
    held = [s for s in stats(server, "queues") if s["queue"] == "held"]
    assert held and held[-1]["pending"] == HELD, held

    page.goto(f"{server.url}/")
    page.get_by_role("link", name="Charts").click()
    expect(page).to_have_url(re.compile(r"#/charts$"))

    def shows_the_samples() -> None:
        expect(legend(page, "chart-depth").filter(has_text=re.compile(r"^held "))).to_have_text(
            f"held {HELD}", timeout=10_000)
        expect(legend(page, "chart-oldest").filter(has_text=re.compile(r"^held "))).to_have_count(1)
        expect(legend(page, "chart-run")).to_have_count(3)  # p50, p95, p99
        expect(legend(page, "chart-run").first).to_have_text(re.compile(r"^p50 \d"))
        expect(legend(page, "chart-wait")).to_have_count(3)
        expect(legend(page, "chart-failures")).to_have_text([re.compile(r"^text \d+$")])
        for testid in ("chart-depth", "chart-oldest", "chart-wait", "chart-run", "chart-failures"):
            chart = page.get_by_test_id(testid)
            expect(chart.get_by_role("img")).to_be_visible()
            expect(chart.get_by_text("No samples yet")).to_have_count(0)

    shows_the_samples()
    screenshot(page, "charts_sampled")

    # The data is the server's: a reload shows it again.
    page.reload()
    shows_the_samples()

    # Another window: in the address, and the same samples within it.
    page.get_by_role("button", name="6 hours").click()
    expect(page).to_have_url(re.compile(r"#/charts\?minutes=360$"))
    expect(page.get_by_role("button", name="6 hours")).to_have_attribute("aria-pressed", "true")
    shows_the_samples()
    page.reload()
    expect(page.get_by_role("button", name="6 hours")).to_have_attribute("aria-pressed", "true")
    shows_the_samples()
