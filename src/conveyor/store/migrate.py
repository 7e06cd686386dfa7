"""The migration loader both drivers share: numbered SQL files per driver, applied in order,
each exactly once (each driver's `migrate` module applies them).

Files live in `migrations/<driver>/NNNN_name.sql`. A fresh database and an upgraded one end
with the same schema because both run the same files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from conveyor.errors import SchemaOutdated

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(driver: str) -> list[Migration]:
    """The driver's migrations in version order."""
    folder = resources.files("conveyor.store").joinpath("migrations", driver)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions for {driver}: {versions}")
    return found


def check_applied(driver: str, applied: Iterable[int]) -> None:
    """For processes that must not migrate (producers): raise `SchemaOutdated` unless every
    migration this library has is applied (a newer schema, from a newer library, is fine)."""
    missing = sorted({m.version for m in load_migrations(driver)} - set(applied))
    if missing:
        raise SchemaOutdated(
            f"the database schema lacks migrations {missing} that this version of conveyor "
            "needs: run `conveyor migrate` (or start a worker or API process, which migrate)")
