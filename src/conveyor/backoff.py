"""Retry delays: exponential with jitter, so a burst of failures does not retry in lockstep."""

from __future__ import annotations

import random

_RNG = random.Random()


def retry_delay(
    attempt: int, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Delay before the retry that follows failed attempt number `attempt` (1-based).

    "Equal jitter": half the exponential step is fixed, half is random, so a delay never
    collapses to zero yet retries of a batch still spread out.
    """
    if base <= 0:
        return 0.0
    step = min(cap, base * 2.0 ** min(max(0, attempt - 1), 62))  # no float overflow
    jitter = (rng or _RNG).uniform(0.0, step / 2)
    return step / 2 + jitter
