"""Renders every statement of `statements.py` into `sql/<name>.sql`, so each can be read
whole (and reviewed in a diff) instead of assembled from pieces; run
`python -m conveyor.store.postgres.render` after changing one (a test fails while stale)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from conveyor.lifecycle import JobStatus
from conveyor.store import search as rules_of_search
from conveyor.store.postgres import search, statements
from conveyor.store.search import JobFilter

EXAMPLE_SEARCHES = {
    "all": JobFilter(),
    "failed": JobFilter(status=JobStatus.FAILED),
    "by_tenant": JobFilter(tenant="acme"),
    "everything": JobFilter(
        tenant="acme", queue="mail", task="send", trace_id="t-1", id_prefix="0193a4",
        error="timeout", payload="alice@example.com",
        created_after=datetime(2026, 1, 1, tzinfo=UTC),
        finished_before=datetime(2026, 1, 2, tzinfo=UTC)),
}
"""Searches are made for each filter (`postgres.search`); these show their shapes."""


def rendered() -> dict[str, str]:
    """Every statement by file name, for `sql/` (and the searches' example shapes)."""
    found = {name.lower(): value for name, value in vars(statements).items()
             if name.isupper() and isinstance(value, str) and not name.startswith("_")
             and not name.endswith("_COLUMNS")}
    cursor = UUID("0193a400-0000-7000-8000-000000000000")
    for name, filter in EXAMPLE_SEARCHES.items():
        parts = rules_of_search.parts(filter.status)
        conds = [*rules_of_search.conditions(filter),
                 rules_of_search.Condition("id", "<", cursor)]
        found[f"search_page_{name}"] = search.page_query(parts, conds, 20, 0).as_string(None)
        found[f"search_count_{name}"] = search.count_query(
            parts, rules_of_search.conditions(filter)
        ).as_string(None)
    return found


SQL_DIR = Path(__file__).with_name("sql")
"""Where the rendered statements live."""


def render(name: str, statement: str) -> str:
    return (f"-- `{name}`: generated from conveyor/store/postgres/statements.py by\n"
            "-- `python -m conveyor.store.postgres.render`; do not edit.\n"
            f"{statement.strip()}\n")


if __name__ == "__main__":
    SQL_DIR.mkdir(exist_ok=True)
    for old in SQL_DIR.glob("*.sql"):
        old.unlink()
    for name, statement in sorted(rendered().items()):
        (SQL_DIR / f"{name}.sql").write_text(render(name, statement))
    sys.stdout.write(f"wrote {len(rendered())} statements to {SQL_DIR}\n")
