"""How many jobs a worker holds ahead of a free slot (`worker.loop.look_ahead`) and when it
tops them up (`worker.loop.to_reserve`)."""

from __future__ import annotations

from conveyor.worker.loop import look_ahead, to_reserve

SIZED = -1  # WORKER_PREFETCH's default: the worker sizes the look-ahead itself


def test_a_given_prefetch_is_taken_as_it_is() -> None:
    assert look_ahead(3, 10, 0.001, 0.5) == 3
    assert look_ahead(0, 10, 1.0, 0.001) == 0


def test_nothing_ahead_before_the_averages_are_known_or_for_jobs_shorter_than_a_lease() -> None:
    assert look_ahead(SIZED, 10, None, 0.001) == 0
    assert look_ahead(SIZED, 10, 0.01, None) == 0
    assert look_ahead(SIZED, 10, 0.0005, 0.001) == 0


def test_the_sized_look_ahead_is_four_lease_round_trips_of_the_slots_work() -> None:
    # 10 slots of 10 ms jobs finish one job a millisecond: four 1 ms round trips' worth.
    assert look_ahead(SIZED, 10, 0.010, 0.001) == 4
    assert look_ahead(SIZED, 10, 0.010, 0.0015) == 6
    assert look_ahead(SIZED, 10, 1.0, 0.001) == 1  # long jobs: one ahead
    assert look_ahead(SIZED, 10, 0.002, 0.001) == 10  # at most the slot count


def test_a_sized_look_ahead_is_topped_up_only_once_half_of_it_has_started() -> None:
    assert to_reserve(4, 4, sized=True) == 0
    assert to_reserve(4, 3, sized=True) == 0
    assert to_reserve(4, 2, sized=True) == 2
    assert to_reserve(4, 0, sized=True) == 4
    assert to_reserve(1, 0, sized=True) == 1
    assert to_reserve(0, 0, sized=True) == 0


def test_a_given_prefetch_is_topped_up_at_every_start() -> None:
    assert to_reserve(4, 3, sized=False) == 1
    assert to_reserve(4, 4, sized=False) == 0
    assert to_reserve(2, 5, sized=False) == 0  # more held than wanted (the setting shrank)
