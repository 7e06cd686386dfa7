"""The lifecycle table (`conveyor.lifecycle`) against everything that repeats it: both
schemas' CHECK constraints, every status and event literal in the SQL of both drivers, the
generated TypeScript, and the counters the transitions move."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conveyor import lifecycle
from conveyor.lifecycle import TRANSITIONS, EventType, JobStatus, counter_deltas
from conveyor.store.migrate import load_migrations

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "src" / "conveyor" / "store"
STATUSES = {status.value for status in JobStatus}
EVENTS = {event.value for event in EventType}


def sql_sources() -> dict[str, str]:
    """Every text the drivers send to a database: migrations, the rendered PostgreSQL
    statements and the SQLite driver's modules (its SQL is inline)."""
    found = {str(p.relative_to(ROOT)): p.read_text() for p in STORE.rglob("*.sql")}
    for path in (STORE / "sqlite").glob("*.py"):
        found[str(path.relative_to(ROOT))] = path.read_text()
    return found


@pytest.mark.parametrize("driver", ["sqlite", "postgres"])
def test_check_constraints_list_exactly_the_statuses(driver: str) -> None:
    schema = "\n".join(m.sql for m in load_migrations(driver))
    checks = re.findall(r"CHECK \(status IN \(([^)]*)\)\)", schema)
    assert checks, "the jobs table has a CHECK constraint on status"
    # The last migration that states the constraint is the one in force.
    assert set(re.findall(r"'([a-z_]+)'", checks[-1])) == STATUSES


def test_every_status_and_event_literal_in_the_sql_is_in_the_table() -> None:
    seen_statuses: set[str] = set()
    for name, text in sql_sources().items():
        for literal in re.findall(r"status\s*(?:=|<>|!=)\s*'([a-z_]+)'", text):
            assert literal in STATUSES, f"{name}: unknown status {literal!r}"
            seen_statuses.add(literal)
        for literal in re.findall(r"(?:THEN|ELSE|SET status =|WHEN)\s+'([a-z_]+)'", text):
            assert literal in STATUSES | EVENTS, f"{name}: unknown literal {literal!r}"
        for literal in re.findall(r"'(job_[a-z_]+)'", text):
            assert literal in EVENTS, f"{name}: unknown event {literal!r}"
    assert seen_statuses == STATUSES, "the pattern still finds the literals"


def test_every_event_has_exactly_one_transition() -> None:
    assert [t.event for t in TRANSITIONS] == list(EventType)
    assert set(JobStatus) >= lifecycle.TERMINAL_STATUSES
    for t in TRANSITIONS:
        assert t.sources, t
        assert all(source not in lifecycle.TERMINAL_STATUSES or source == t.after(source)
                   for source in t.sources), f"{t.event}: a terminal job never moves"


def test_counter_deltas_move_jobs_between_statuses() -> None:
    assert counter_deltas([(EventType.CREATED, None)]) == {
        "jobs_submitted": 1, "status:pending": 1}
    assert counter_deltas([(EventType.LEASED, JobStatus.PENDING),
                           (EventType.SUCCEEDED, JobStatus.RUNNING)]) == {
        "status:done": 1, "status:pending": -1}
    assert counter_deltas([(EventType.RETRIED, JobStatus.FAILED)]) == {}
    assert counter_deltas([(EventType.RETRIED, JobStatus.CANCELLED)]) == {}
    assert counter_deltas([(EventType.CANCELLED, JobStatus.RUNNING)]) == {
        "status:cancelled": 1, "status:running": -1}
    assert counter_deltas([(EventType.PROGRESS, JobStatus.RUNNING)]) == {}
    with pytest.raises(ValueError, match="does not start"):
        counter_deltas([(EventType.SUCCEEDED, JobStatus.PENDING)])


def test_the_dashboard_types_are_generated_from_the_table() -> None:
    generated = ROOT / "dashboard" / "src" / "generated" / "lifecycle.ts"
    assert generated.read_text() == lifecycle.typescript(), (
        "stale: run `python -m conveyor.lifecycle > dashboard/src/generated/lifecycle.ts`")


def test_the_rendered_postgres_statements_are_current() -> None:
    from conveyor.store.postgres import render

    expected = {f"{name}.sql": render.render(name, text)
                for name, text in render.rendered().items()}
    on_disk = {p.name: p.read_text() for p in render.SQL_DIR.glob("*.sql")}
    assert on_disk == expected, "stale: run `python -m conveyor.store.postgres.render`"
