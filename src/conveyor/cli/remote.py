"""What every operator command shares: where the API is (`--url`, `--api-key`, `--json`), a
client whose failures are one line, and the two ways of printing an answer (a table for
people, the API's JSON for scripts).

The operator commands only talk HTTP (`conveyor.Client`): they work against any conveyor,
local or remote, and need no database URL.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import click
from pydantic import BaseModel

from conveyor.client import Client

F = TypeVar("F", bound=Callable[..., Any])

CLIENT_TIMEOUT_SEC = 60.0
"""Per request: a paced redrive call answers within about 15 s; the rest within one."""


def api_options(command: F) -> F:
    """Where the API is and how to reach it: `--url` (CONVEYOR_URL), `--api-key` (API_KEY),
    and `--json` for machine-readable output."""
    command = click.option("--json", "as_json", is_flag=True,
                           help="Print JSON instead of a table.")(command)
    command = click.option("--api-key", envvar="API_KEY", default=None,
                           help="The API key (env API_KEY).")(command)
    command = click.option("--url", envvar="CONVEYOR_URL", default="http://127.0.0.1:8000",
                           show_default=True, help="The API's address (env CONVEYOR_URL).")(command)
    return command


@contextlib.contextmanager
def client(url: str, api_key: str | None) -> Iterator[Client]:
    """A `Client` whose failures (an error answer, an unreachable API) are one line."""
    import httpx

    from conveyor.client import ClientError

    try:
        with Client(url, api_key=api_key, timeout=CLIENT_TIMEOUT_SEC) as opened:
            yield opened
    except ClientError as exc:
        raise click.ClickException(f"{exc.status} {exc.code}: {exc.message}") from exc
    except httpx.TransportError as exc:
        raise click.ClickException(f"cannot reach the API at {url}: {exc}") from exc


# -- printing ---------------------------------------------------------------------------------

def print_json(value: BaseModel | Sequence[BaseModel] | dict[str, Any], *,
               err: bool = False) -> None:
    """A model (or a list of them) as the API sent it, indented."""
    if isinstance(value, BaseModel):
        data: Any = value.model_dump(mode="json")
    elif isinstance(value, dict):
        data = value
    else:
        data = [item.model_dump(mode="json") for item in value]
    click.echo(json.dumps(data, indent=2), err=err)


def print_table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Left-aligned columns two spaces apart, under a header row; an empty cell is `-`."""
    cells = [[("-" if cell is None or cell == "" else str(cell)) for cell in row]
             for row in rows]
    widths = [max(len(str(text)) for text in column)
              for column in zip(columns, *cells, strict=False)]
    for row in (list(columns), *cells):
        click.echo("  ".join(text.ljust(width) for text, width in zip(row, widths,
                                                                       strict=True)).rstrip())


def moment(value: datetime | None) -> str | None:
    """A time for a table: UTC, to the second (`2026-03-01 09:30:00Z`)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def clip(text: str | None, width: int = 60) -> str | None:
    """One line of at most `width` characters (an error message in a table)."""
    if text is None:
        return None
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


# -- parsing ----------------------------------------------------------------------------------

if TYPE_CHECKING:  # generic since click 8.2; subscripted for mypy only, so 8.1 still runs it
    _TimeParam = click.ParamType[datetime, Any]
    _RateParam = click.ParamType[float, Any]
else:
    _TimeParam = _RateParam = click.ParamType

_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class Moment(_TimeParam):
    """A time: ISO 8601 (`2026-03-01`, `2026-03-01T09:30`, `…+02:00`; without an offset it
    is the local time, as in `date`), or how long ago (`90s`, `30m`, `2h`, `7d`, `1w`)."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        ago = _AGO.match(text)
        if ago:
            seconds = float(ago.group(1)) * _UNITS[ago.group(2)]
            return datetime.now(UTC) - timedelta(seconds=seconds)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r} is neither an ISO 8601 time (2026-03-01T09:30) nor a time "
                      "ago (30m, 2h, 7d)", param, ctx)
        return parsed if parsed.tzinfo is not None else parsed.astimezone()


_RATE = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|m|min))?$")


class Rate(_RateParam):
    """Jobs a second: `N/s` (or `N`), or a minute: `N/m`."""

    name = "N/s"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        text = str(value).strip()
        found = _RATE.match(text)
        if not found or float(found.group(1)) <= 0:
            self.fail(f"{text!r} is not a rate such as 10/s or 120/m", param, ctx)
        per_sec = float(found.group(1))
        return per_sec / 60 if found.group(2) in ("m", "min") else per_sec
