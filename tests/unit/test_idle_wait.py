"""How long a worker whose lease took nothing sleeps (`worker.loop.idle_wait`)."""

from __future__ import annotations

from conveyor.worker.loop import _DUE_MIN_SEC, _HELD_BACK_MAX_SEC, idle_wait

POLL = 2.0


def test_nothing_pending_sleeps_until_the_poll() -> None:
    assert idle_wait(None, None, 0.1, POLL) == (POLL, _DUE_MIN_SEC)


def test_a_job_due_later_is_slept_until_and_the_back_off_starts_over() -> None:
    assert idle_wait(0.5, None, 0.1, POLL) == (0.5, _DUE_MIN_SEC)
    assert idle_wait(0.0001, None, 0.1, POLL) == (_DUE_MIN_SEC, _DUE_MIN_SEC)
    assert idle_wait(60.0, None, 0.1, POLL) == (POLL, _DUE_MIN_SEC)


def test_due_jobs_left_untaken_double_the_sleep_up_to_its_cap() -> None:
    held_back, waits = _DUE_MIN_SEC, []
    for _ in range(12):
        wait, held_back = idle_wait(-1.0, None, held_back, POLL)
        waits.append(wait)
    assert waits[:4] == [0.002, 0.004, 0.008, 0.016]
    assert max(waits) == _HELD_BACK_MAX_SEC and waits[-1] == _HELD_BACK_MAX_SEC
    assert sum(waits) > 1.0  # about ten idle rounds a second at most, not five hundred


def test_the_back_off_never_sleeps_past_the_next_job_coming_due() -> None:
    assert idle_wait(-1.0, 0.05, _HELD_BACK_MAX_SEC, POLL) == (0.05, _HELD_BACK_MAX_SEC)
    assert idle_wait(-1.0, 0.0001, 0.1, POLL)[0] == _DUE_MIN_SEC
    assert idle_wait(-1.0, None, 0.1, 0.05) == (0.05, 0.05)  # nor past a shorter poll
