"""The listing benchmark's short version (`python -m bench.listing --quick`), so the case
`make bench-listing` runs cannot rot: it seeds the history, starts the API, and every case
answers right and gets its figures, on every driver. No timing is asserted: on a shared
machine a figure says nothing about a change."""

from __future__ import annotations

import math

import pytest
from bench.history import RARE_TENANT
from bench.listing import main_async, parse_args

from tests.pgsupport import require_postgres, server_url

pytestmark = pytest.mark.slow

ROWS = 5_000


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_the_quick_listing_bench_measures_every_case(kind: str) -> None:
    if kind == "postgres":
        require_postgres()
    args = parse_args(["--quick", "--store", kind, "--rows", str(ROWS), "--requests", "5",
                       "--warmup", "1", "--no-json", "--postgres-url", server_url()])
    [result] = await main_async(args)

    seeded = result["seeded"]
    assert seeded["rows"] == ROWS and seeded["events"] == 3 * ROWS
    assert sum(seeded["by_status"].values()) == ROWS
    assert RARE_TENANT in seeded["by_tenant"]
    assert any("ANALYZE" in step for step in seeded["maintenance"])
    counters = result["counters"]
    assert counters["jobs_submitted"] == ROWS
    for status, count in seeded["by_status"].items():
        assert counters[f"status:{status}"] == count

    assert result["skipped"] == {}, "the API offers every parameter the cases use"
    cases = result["cases"]
    assert {"first_page", "depth_90", "offset_half", "tenant_rare", "payload_rare",
            "error_common", "dlq_depth_50", "redrive_error", "cancel_tenant"} <= set(cases)
    for key, case in cases.items():
        assert case["problem"] is None, f"{key}: {case['problem']}"
        assert case["requests"] >= 1, key
        for figure in ("p50_ms", "p99_ms"):
            assert isinstance(case[figure], float) and math.isfinite(case[figure]), key
        assert case["p50_ms"] <= case["p99_ms"], key
        assert case["held"] in ((True, False) if case["target"] else (None,)), key
