"""From `DATABASE_URL` to libpq connection parameters plus the driver's own settings.

The URL is a libpq URL (`postgresql://user:pass@host:5432/db?sslmode=require`); `postgres://`
and SQLAlchemy-style `postgresql+psycopg://` are accepted too. A few query parameters belong to
conveyor and are removed before libpq sees them (libpq rejects names it does not know):

- `pool_min_size`: connections each process keeps open. Defaults to 2.
- `pool_max_size`: most connections each process opens. Defaults to 10.
- `pool_timeout`: seconds a call waits for a free connection before `StoreUnavailable`.
  Defaults to 5.
- `statement_timeout_ms`: a statement running longer is cancelled (`StoreUnavailable`).
  Defaults to 30000; 0 disables.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo

TCP_USER_TIMEOUT_MS = 15_000
"""Sent data unacknowledged this long closes the connection (libpq's `tcp_user_timeout`):
without it, a statement sent into a cut network is retransmitted for many minutes before
the socket gives up, long after the caller's own deadline (`store/deadline.py`) has."""


@dataclass(frozen=True, slots=True)
class PostgresOptions:
    """The driver's settings; see the module docstring for their meaning and defaults."""

    pool_min_size: int = 2
    pool_max_size: int = 10
    pool_timeout: float = 5.0
    statement_timeout_ms: int = 30_000
    connect_timeout: int = 5
    idle_in_transaction_timeout_ms: int = 60_000


def parse_postgres_url(url: str) -> tuple[str, PostgresOptions]:
    """Split `url` into a libpq conninfo string and `PostgresOptions`.

    The conninfo carries the session settings every conveyor connection needs: UTC for
    timestamps, generic plans for the statements the driver prepares (see
    `PostgresStore._fetch`), no JIT (a generic plan is costed without its parameters' values:
    the fair pick's cost reaches millions over a large backlog, and every lease would be
    compiled, 1.5 s each), the statement timeout, an idle-in-transaction timeout (a crashed
    client must not hold row locks forever), TCP keepalives (a silently dead server is
    noticed), a TCP user timeout (a cut network is noticed while sending) and an application
    name for `pg_stat_activity`. Settings already in the URL's `options` win.
    """
    scheme, rest = url.split(":", 1)
    base_scheme = scheme.split("+", 1)[0]
    if base_scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {scheme}://…")
    parts = urlsplit(f"postgresql:{rest}")
    # libpq percent-decodes query values but keeps "+" as is; parse_qsl would turn it into a
    # space, so protect it, and re-encode spaces as %20 (never "+") below.
    query = dict(parse_qsl(parts.query.replace("+", "%2B"), keep_blank_values=True))
    defaults = PostgresOptions()
    try:
        options = PostgresOptions(
            pool_min_size=int(query.pop("pool_min_size", defaults.pool_min_size)),
            pool_max_size=int(query.pop("pool_max_size", defaults.pool_max_size)),
            pool_timeout=float(query.pop("pool_timeout", defaults.pool_timeout)),
            statement_timeout_ms=int(
                query.pop("statement_timeout_ms", defaults.statement_timeout_ms)
            ),
            connect_timeout=int(query.get("connect_timeout", defaults.connect_timeout)),
        )
    except ValueError as exc:
        raise ValueError(f"invalid conveyor parameter in the PostgreSQL URL: {exc}") from exc
    if not 0 <= options.pool_min_size <= options.pool_max_size or options.pool_max_size < 1:
        raise ValueError("need 0 <= pool_min_size <= pool_max_size and pool_max_size >= 1")
    libpq_url = urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))
    given = conninfo_to_dict(libpq_url)
    session = (
        "-c TimeZone=UTC -c plan_cache_mode=force_generic_plan -c jit=off"
        f" -c statement_timeout={options.statement_timeout_ms}"
        f" -c idle_in_transaction_session_timeout={options.idle_in_transaction_timeout_ms}"
    )
    extra = str(given.get("options") or "")
    conninfo = make_conninfo(
        libpq_url,
        options=f"{session} {extra}".strip(),
        connect_timeout=given.get("connect_timeout", options.connect_timeout),
        application_name=given.get("application_name", "conveyor"),
        keepalives=given.get("keepalives", 1),
        keepalives_idle=given.get("keepalives_idle", 30),
        keepalives_interval=given.get("keepalives_interval", 10),
        keepalives_count=given.get("keepalives_count", 3),
        tcp_user_timeout=given.get("tcp_user_timeout", TCP_USER_TIMEOUT_MS),
    )
    return conninfo, options


def describe(conninfo: str) -> str:
    """`host:port/dbname` for messages; never the password."""
    params = conninfo_to_dict(conninfo)
    return (
        f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname', '')}"
    )
