"""Settings: SEED.md's environment variables with their defaults, plus conveyor's own.

Values come from, in order of precedence: command-line flags (the CLI passes them as
overrides), the environment, a `.env` file in the working directory, the defaults below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./data/conveyor.db"

EventLoop = Literal["auto", "asyncio", "uvloop"]
"""`EVENT_LOOP`'s choices (`runtime.loop_factory`)."""


class Settings(BaseSettings):
    """Everything an operator can tune. Names match SEED.md's variables where it has one."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="Listen address. Defaults to 127.0.0.1.")
    port: int = Field(8000, ge=0, le=65535, description="API and WebSocket port. Defaults to 8000.")
    api_key: str | None = Field(
        None, description="If set, every route but /health needs X-API-Key. Defaults to unset."
    )
    rate_limit_concurrent: int = Field(
        5, description="Kept for SEED.md compatibility; never rejects a submission."
    )
    rate_limit_per_minute: int = Field(
        10, ge=0, description="New jobs per tenant per minute; 0 disables. Defaults to 10."
    )
    lease_timeout_sec: float = Field(
        300, gt=0, description="A lease not renewed for this long is rescued. Defaults to 300."
    )
    max_retries: int = Field(
        3, ge=0, le=100,
        description="Retries after the first attempt before the DLQ. Defaults to 3.",
    )
    worker_poll_ms: int = Field(
        2000, gt=0, description="Fallback poll interval of an idle worker. Defaults to 2000."
    )
    worker_concurrency: int = Field(
        5, gt=0, description="Jobs one worker process runs at once. Defaults to 5."
    )
    worker_prefetch: int = Field(
        -1, ge=-1,
        description="Jobs a worker holds ahead of a free slot (they stay pending until they "
                    "start): -1 sizes it from job and lease times, 0 turns it off. "
                    "Defaults to -1.",
    )
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="sqlite:///path/to/file.db or postgresql://… Defaults to ./data/conveyor.db.",
    )
    text_seconds_per_char: float = Field(
        1.0, ge=0, description="Run time of the `text` task per character. Defaults to 1.0."
    )
    store_timeout_sec: float = Field(
        10, ge=0, description="A store call unanswered for this long fails (the store counts "
        "as unreachable); 0 waits forever. Defaults to 10."
    )
    shutdown_grace_sec: float = Field(
        30, ge=0, description="On SIGTERM, how long running jobs may finish. Defaults to 30."
    )
    retry_backoff_base_sec: float = Field(
        1.0, ge=0, description="First retry delay; doubles per attempt, jittered. Defaults to 1."
    )
    retry_backoff_max_sec: float = Field(
        600, ge=0, description="Upper bound of one retry delay. Defaults to 600."
    )
    max_body_bytes: int = Field(
        65536, gt=0, description="Largest accepted request body, in bytes. Defaults to 65536."
    )
    log_level: str = Field("info", description="debug, info, warning or error. Defaults to info.")
    event_loop: EventLoop = Field(
        "auto", description="The processes' event loop: uvloop when installed (auto), or "
                            "asyncio's own, or uvloop required. Defaults to auto.",
    )
    dashboard_dir: Path | None = Field(
        None, description="Built dashboard to serve at /. Defaults to dashboard/dist if present."
    )
    retention_days: float = Field(
        0, ge=0,
        description="Days a finished job (and its events) is kept before a worker deletes it; "
                    "0 keeps everything (SEED.md: full history). Defaults to 0.",
    )
    retention_done_days: float | None = Field(
        None, ge=0, description="RETENTION_DAYS for done jobs (0: keep). Defaults to unset.")
    retention_failed_days: float | None = Field(
        None, ge=0, description="RETENTION_DAYS for failed jobs (0: keep). Defaults to unset.")
    retention_cancelled_days: float | None = Field(
        None, ge=0,
        description="RETENTION_DAYS for cancelled jobs (0: keep). Defaults to unset.")
    retention_batch_size: int = Field(
        500, gt=0, le=10_000,
        description="Jobs one retention transaction deletes at most. Defaults to 500.")
    retention_interval_sec: float = Field(
        60, gt=0,
        description="How often the pruning worker looks for expired jobs once none are left. "
                    "Defaults to 60.",
    )
    stats_sample_sec: float = Field(
        60, ge=0,
        description="How often each worker offers to write the charts' sample of the minute "
                    "that just ended (one worker a minute does); 0 turns sampling off. "
                    "Defaults to 60.",
    )
    stats_keep_days: float = Field(
        7, gt=0, description="Days chart samples are kept. Defaults to 7.")

    @field_validator("api_key", "dashboard_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`API_KEY=` in a .env file means no key, not the empty key."""
        return None if value == "" else value

    @field_validator("retention_done_days", "retention_failed_days",
                     "retention_cancelled_days", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        """`RETENTION_FAILED_DAYS=` means "as RETENTION_DAYS", not a malformed number."""
        return None if value == "" else value

    @property
    def retention_days_by_status(self) -> dict[str, float | None]:
        """Days each finished status is kept (None: forever): its own setting if given,
        else RETENTION_DAYS; 0 is forever either way."""
        own = {"done": self.retention_done_days, "failed": self.retention_failed_days,
               "cancelled": self.retention_cancelled_days}
        days = {status: self.retention_days if value is None else value
                for status, value in own.items()}
        return {status: value if value > 0 else None for status, value in days.items()}

    @property
    def heartbeat_interval_sec(self) -> float:
        """A third of the lease, so two heartbeats can be lost before a live job is rescued."""
        return max(0.05, min(self.lease_timeout_sec / 3, 30.0))
