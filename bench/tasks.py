"""Tasks the benchmarks enqueue; workers load them with `--import bench.tasks`.

They do as little as possible, so a drain measures conveyor's own cost per job (lease,
dispatch, ack, events) rather than the work a real task would do.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from conveyor import task


@task("bench_noop")
async def bench_noop(payload: dict[str, Any]) -> None:
    """Nothing at all: the drain rate is then the queue's own ceiling."""


@task("bench_sleep10")
async def bench_sleep10(payload: dict[str, Any]) -> None:
    """10 ms of waiting (I/O-like): the ceiling is slots / 0.01 s, so the rate shows how
    much of each slot the queue's overhead takes."""
    await asyncio.sleep(0.01)


@task("bench_stamp")
async def bench_stamp(payload: dict[str, Any]) -> dict[str, float]:
    """Returns the wall-clock time the handler started, for pickup latency to the handler."""
    return {"started": time.time()}
