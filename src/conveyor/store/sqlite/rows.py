"""How SQLite's columns decode: times are epoch seconds (REAL), JSON is text, ids are text.

The conversions themselves are shared (`conveyor.store.rows`); `READ` binds SQLite's decoders.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from conveyor.store.rows import (
    EVENT_COLUMNS,
    JOB_COLUMNS,
    SCHEDULE_COLUMNS,
    WORKER_COLUMNS,
    RowReader,
    dumps,
)


def _time(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


READ = RowReader(time=_time, json=json.loads, id=uuid.UUID, token=uuid.UUID, array=json.loads)

__all__ = [
    "EVENT_COLUMNS", "JOB_COLUMNS", "READ", "SCHEDULE_COLUMNS", "WORKER_COLUMNS", "dumps",
]
