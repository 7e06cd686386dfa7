"""Worker processes: lease → run → ack/fail."""

from __future__ import annotations

from conveyor.worker.loop import Worker

__all__ = ["Worker"]
