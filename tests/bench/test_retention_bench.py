"""The retention benchmark's short version (`python -m bench.retention --quick`), so the case
`make bench-retention` runs cannot rot: it drains with and without pruning and prunes the
whole stored history, on every driver."""

from __future__ import annotations

import math

import pytest
from bench.retention import main_async, parse_args

from tests.pgsupport import require_postgres, server_url

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_the_quick_retention_bench_prunes_everything_and_measures(kind: str) -> None:
    if kind == "postgres":
        require_postgres()
    args = parse_args(["--quick", "--store", kind, "--rows", "5000", "--drain-jobs", "2000",
                       "--postgres-url", server_url()])
    [result] = await main_async(args)
    assert result["counters_after"] == {
        "done": 5000 + 2 * 2000, "jobs_submitted": 5000 + 2 * 2000, "pruned_done": 5000}
    for drain in ("drain_without_pruning", "drain_while_pruning"):
        assert result[drain]["jobs"] == 2000 and math.isfinite(result[drain]["steady_rate"])
    assert result["drain_without_pruning"]["pruned_during"] == 0
    assert result["drain_while_pruning"]["pruned_during"] > 0
