"""The dashboard with tenant keys, in headless Chromium against a real `conveyor up` with
API_KEY set: an admin makes a tenant key and a read-only key for `acme` (POST /keys) and
submits jobs for acme and for globex. With acme's key the header says "Tenant acme", only
acme's jobs are listed (no globex job id anywhere in the page), a job's page opens and its
cancel works; with the read-only key the header says read-only and cancel, retry and redrive
are off; with the admin key the header says "All tenants" and both tenants' jobs are listed.

Every wait on the page is Playwright's `expect(...)` with a deadline; the API is polled until a
deadline for the jobs to reach their status.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import ConveyorServer, screenshot
from tests.e2e.helpers import expect, expect_live, get_job, submit, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN_KEY = "e2e-admin-secret"
WAITING = {"text": "Hi", "delay_sec": 3600}  # pending for an hour: it has a Cancel button
TOO_LONG = {"text": "The quick brown fox jumps over the lazy dog"}  # fails at once: the DLQ


def make_key(server: ConveyorServer, tenant: str, role: str) -> str:
    response = server.post("/keys", {"tenant": tenant, "role": role, "name": f"e2e {role}"},
                           **{"X-API-Key": ADMIN_KEY})
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    assert key.startswith("cvk_")
    return key


def short(job_id: str) -> str:
    """The id as the lists show it: its last 8 hex digits."""
    return job_id.replace("-", "")[-8:]


def open_with_key(page: Any, server: ConveyorServer, key: str, hash_: str) -> None:
    """The dashboard with `key` saved in this browser, as the settings' Save would keep it."""
    page.goto(f"{server.url}/{hash_}")
    page.evaluate("key => window.localStorage.setItem('conveyor.apiKey', key)", key)
    page.reload()
    expect_live(page)
    expect(page.get_by_test_id("problem")).to_be_empty()


def row(page: Any, job_id: str) -> Any:
    return page.get_by_role("tabpanel").locator(f'tr[data-job-id="{job_id}"]')


def assert_nowhere(page: Any, job_ids: list[str]) -> None:
    """Neither the ids nor their short forms are anywhere in the page, text or attributes."""
    html = page.content()
    for job_id in job_ids:
        assert job_id not in html and short(job_id) not in html, f"{job_id} is on the page"


def test_each_kind_of_key_sees_and_does_what_it_may(
    page: Any, start_server: Callable[..., ConveyorServer]
) -> None:
    server = start_server(API_KEY=ADMIN_KEY)
    acme_key = make_key(server, "acme", "tenant")
    readonly_key = make_key(server, "acme", "readonly")
    acme_cancel = submit(server, WAITING, api_key=ADMIN_KEY, tenant="acme")
    acme_waiting = submit(server, WAITING, api_key=ADMIN_KEY, tenant="acme")
    acme_failed = submit(server, TOO_LONG, api_key=ADMIN_KEY, tenant="acme")
    globex_waiting = submit(server, WAITING, api_key=ADMIN_KEY, tenant="globex")
    globex_failed = submit(server, TOO_LONG, api_key=ADMIN_KEY, tenant="globex")
    wait_for_status(server, [acme_failed, globex_failed], "failed", api_key=ADMIN_KEY)
    globex = [globex_waiting, globex_failed]
    scope = page.get_by_test_id("scope")

    # acme's key: its jobs only, with no other tenant to choose.
    open_with_key(page, server, acme_key, "#/pending")
    expect(scope).to_have_text("Showing: Tenant acme")
    expect(row(page, acme_waiting)).to_be_visible()
    expect(row(page, acme_cancel)).to_be_visible()
    expect(page.get_by_role("tabpanel").locator("tbody tr")).to_have_count(2)
    expect(page.get_by_test_id("tenant-filter")).to_contain_text("acme")
    expect(page.get_by_test_id("tenant-filter").get_by_role("textbox")).to_have_count(0)
    expect(page.get_by_test_id("metric-pending")).to_have_text("2")  # acme's counts
    assert_nowhere(page, globex)
    screenshot(page, "tenant_key_pending")

    page.get_by_role("tab", name=re.compile("^Dead letter queue")).click()
    expect(row(page, acme_failed)).to_be_visible()
    retry = row(page, acme_failed).get_by_role("button", name=re.compile("^Retry job"))
    expect(retry).to_be_enabled()
    expect(page.get_by_role("tabpanel").locator("tbody tr")).to_have_count(1)
    assert_nowhere(page, globex)

    # Its job's page opens, and its Cancel works: the key acts for acme.
    page.get_by_role("tab", name=re.compile("^Pending")).click()
    row(page, acme_cancel).get_by_role("link", name=short(acme_cancel)).click()
    heading = page.get_by_role("heading", name=re.compile("^Job "))
    expect(heading).to_contain_text(short(acme_cancel))
    expect(page.get_by_role("button", name="Cancel")).to_be_enabled()
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator(".flash-slot")).to_contain_text("cancelled")
    wait_for_status(server, [acme_cancel], "cancelled", api_key=ADMIN_KEY)
    assert_nowhere(page, globex)

    # acme's read-only key: the same jobs, and every change is off.
    open_with_key(page, server, readonly_key, "#/pending")
    expect(scope).to_have_text("Showing: Tenant acme · read-only")
    cancel = row(page, acme_waiting).get_by_role("button", name=re.compile("^Cancel job"))
    expect(cancel).to_be_disabled()
    expect(cancel).to_have_attribute("title", re.compile("read-only"))
    expect(page.get_by_role("button", name="Submit job")).to_be_disabled()
    assert_nowhere(page, globex)

    page.get_by_role("tab", name=re.compile("^Dead letter queue")).click()
    expect(row(page, acme_failed).get_by_role("button", name=re.compile("^Retry job"))
           ).to_be_disabled()
    redrive = page.get_by_test_id("redrive")
    redrive.get_by_text("Redrive by filter").click()
    expect(redrive.get_by_test_id("redrive-denied")).to_contain_text("read-only")
    expect(redrive.get_by_role("button", name="Preview")).to_be_disabled()
    expect(redrive.get_by_role("button", name=re.compile("^Redrive"))).to_be_disabled()
    screenshot(page, "readonly_key_dlq")

    # A click on the disabled Cancel sends nothing: the job is still pending.
    page.get_by_role("tab", name=re.compile("^Pending")).click()
    row(page, acme_waiting).get_by_role("button", name=re.compile("^Cancel job")).click(
        force=True)
    assert get_job(server, acme_waiting, api_key=ADMIN_KEY)["status"] == "pending"

    # The admin key: every tenant's jobs.
    open_with_key(page, server, ADMIN_KEY, "#/pending")
    expect(scope).to_have_text("Showing: All tenants (admin)")
    expect(row(page, acme_waiting)).to_be_visible()
    expect(row(page, globex_waiting)).to_be_visible()
    expect(row(page, globex_waiting)).to_contain_text("globex")
    page.get_by_role("tab", name=re.compile("^Dead letter queue")).click()
    expect(row(page, acme_failed)).to_be_visible()
    expect(row(page, globex_failed)).to_be_visible()
    expect(row(page, globex_failed).get_by_role("button", name=re.compile("^Retry job"))
           ).to_be_enabled()

    # Its tenant filter shows one tenant's DLQ.
    page.get_by_test_id("tenant-filter").get_by_label("Tenant").fill("globex")
    page.get_by_test_id("tenant-filter").get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"#/dlq\?tenant=globex$"))
    expect(row(page, globex_failed)).to_be_visible()
    expect(row(page, acme_failed)).to_have_count(0)
    screenshot(page, "admin_key_filtered_dlq")
