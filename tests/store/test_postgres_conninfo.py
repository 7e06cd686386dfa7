"""`DATABASE_URL` → libpq parameters and the driver's own settings (no server needed)."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

from conveyor.store.postgres.conninfo import PostgresOptions, describe, parse_postgres_url


def test_defaults_and_session_settings() -> None:
    conninfo, options = parse_postgres_url("postgresql://u:secret@db.example:6432/app")
    assert options == PostgresOptions()
    params = conninfo_to_dict(conninfo)
    assert (params["host"], params["port"], params["dbname"]) == ("db.example", "6432", "app")
    assert "-c TimeZone=UTC" in str(params["options"])
    assert "-c statement_timeout=30000" in str(params["options"])
    assert "-c jit=off" in str(params["options"])
    assert params["application_name"] == "conveyor" and params["keepalives"] == "1"
    assert describe(conninfo) == "db.example:6432/app"  # never the password


def test_conveyor_parameters_are_taken_out_of_the_url() -> None:
    conninfo, options = parse_postgres_url(
        "postgres://u@h/db?pool_min_size=0&pool_max_size=3&pool_timeout=1.5"
        "&statement_timeout_ms=250&sslmode=disable&connect_timeout=7"
    )
    assert options.pool_min_size == 0 and options.pool_max_size == 3
    assert options.pool_timeout == 1.5 and options.statement_timeout_ms == 250
    params = conninfo_to_dict(conninfo)
    assert "pool_max_size" not in params and params["sslmode"] == "disable"
    assert params["connect_timeout"] == "7" and options.connect_timeout == 7
    assert "-c statement_timeout=250" in str(params["options"])


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("-c%20synchronous_commit%3Doff", "-c synchronous_commit=off"),
        ("-csynchronous_commit%3Doff", "-csynchronous_commit=off"),
    ],
)
def test_options_in_the_url_survive_and_win(given: str, expected: str) -> None:
    conninfo, _ = parse_postgres_url(f"postgresql+psycopg://u@h/db?options={given}")
    options = str(conninfo_to_dict(conninfo)["options"])
    assert options.endswith(f" {expected}")  # after ours, so it wins


def test_a_literal_plus_stays_a_plus() -> None:
    conninfo, _ = parse_postgres_url("postgresql://u@h/db?application_name=a+b")
    assert conninfo_to_dict(conninfo)["application_name"] == "a+b"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u@h/db",
        "postgresql://u@h/db?pool_max_size=0",
        "postgresql://u@h/db?pool_min_size=5&pool_max_size=2",
        "postgresql://u@h/db?pool_timeout=soon",
    ],
)
def test_invalid_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        parse_postgres_url(url)
