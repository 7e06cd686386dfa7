"""Renders every statement of `statements.py` into `sql/<name>.sql`, so each can be read
whole (and reviewed in a diff) instead of assembled from pieces; run
`python -m conveyor.store.postgres.render` after changing one (a test fails while stale)."""

from __future__ import annotations

import sys
from pathlib import Path

from conveyor.lifecycle import JobStatus
from conveyor.store.postgres import statements


def rendered() -> dict[str, str]:
    """Every statement by file name, for `sql/` (the list statements for each filter kind)."""
    found = {name.lower(): value for name, value in vars(statements).items()
             if name.isupper() and isinstance(value, str) and not name.startswith("_")
             and not name.endswith("_COLUMNS")}
    for status in (None, *JobStatus):
        for by_tenant in (False, True):
            page, count = statements.list_jobs(status, by_tenant)
            suffix = f"{status.value if status else 'all'}{'_by_tenant' if by_tenant else ''}"
            found[f"list_jobs_{suffix}"] = page
            found[f"count_jobs_{suffix}"] = count
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
