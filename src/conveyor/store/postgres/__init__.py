"""The PostgreSQL driver; see `store.py` for its limits and promises."""

from __future__ import annotations

from conveyor.store.postgres.store import PostgresStore, open_postgres

__all__ = ["PostgresStore", "open_postgres"]
