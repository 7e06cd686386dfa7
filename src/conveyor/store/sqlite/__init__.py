"""The embedded SQLite driver; see `store.py` for its limits and promises."""

from __future__ import annotations

from conveyor.store.sqlite.store import SqliteStore, sqlite_path_from_url

__all__ = ["SqliteStore", "sqlite_path_from_url"]
