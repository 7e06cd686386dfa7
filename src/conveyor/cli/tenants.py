"""`conveyor tenants list | show NAME | set NAME [--weight N] [--max-running N] [--rate N]`,
over the API.

`set` changes only the settings it is given and keeps the others (it reads the tenant, then
sends all three with `PUT /tenants/{name}`); `default` as a value clears that one. Two
operators setting different fields of one tenant at the same moment: the later write wins
whole."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from conveyor.cli.remote import api_options, client, print_json, print_table
from conveyor.wire import MAX_TENANT_RATE, MAX_TENANT_RUNNING, MAX_TENANT_WEIGHT, TenantOut

if TYPE_CHECKING:  # generic since click 8.2, as in `remote.py`
    _SettingParam = click.ParamType[Any, Any]
else:
    _SettingParam = click.ParamType

_KEEP = object()
"""An option not given: the tenant keeps that setting."""


class _Setting(_SettingParam):
    """A whole number in a range, or `default` (None: back to the default)."""

    name = "N|default"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if value is None or value is _KEEP or isinstance(value, int):
            return value  # click passes the default through too
        text = str(value).strip().lower()
        if text in ("default", "none"):
            return None
        if not text.isdigit() or not self.low <= int(text) <= self.high:
            self.fail(f"{value!r} is not a whole number from {self.low} to {self.high} "
                      "(or `default`)", param, ctx)
        return int(text)


def _shown(value: int | None, default: str) -> str:
    return default if value is None else str(value)


def _print_tenants(tenants: list[TenantOut], as_json: bool) -> None:
    if as_json:
        print_json(tenants)
        return
    print_table(
        ("tenant", "weight", "max running", "rate/min", "pending", "running"),
        [(t.name, _shown(t.weight, "1 (default)"), _shown(t.max_running, "no cap"),
          _shown(t.rate_per_minute, "default"), t.pending, t.running) for t in tenants])


@click.group()
def tenants() -> None:
    """List tenants and set their weight, cap and rate limit (over the API)."""


@tenants.command("list")
@api_options
def tenants_list(url: str, api_key: str | None, as_json: bool) -> None:
    """Every tenant with a setting or with pending or running jobs."""
    with client(url, api_key) as api:
        _print_tenants(api.tenants(), as_json)


@tenants.command("show")
@click.argument("name")
@api_options
def tenants_show(name: str, url: str, api_key: str | None, as_json: bool) -> None:
    """NAME's settings and live jobs."""
    with client(url, api_key) as api:
        _print_tenants([api.tenant(name)], as_json)


@tenants.command("set")
@click.argument("name")
@click.option("--weight", type=_Setting(1, MAX_TENANT_WEIGHT), default=_KEEP,
              help="Share of the workers against other tenants (default 1).")
@click.option("--max-running", type=_Setting(0, MAX_TENANT_RUNNING), default=_KEEP,
              help="Most jobs running at once across all workers (default: no cap).")
@click.option("--rate", type=_Setting(0, MAX_TENANT_RATE), default=_KEEP,
              help="Submits per minute instead of RATE_LIMIT_PER_MINUTE; 0: no limit.")
@api_options
def tenants_set(name: str, weight: Any, max_running: Any, rate: Any, url: str,
                api_key: str | None, as_json: bool) -> None:
    """Change NAME's settings; those not given stay as they are, `default` clears one."""
    with client(url, api_key) as api:
        now = api.tenant(name)
        changed = api.set_tenant(
            name,
            weight=now.weight if weight is _KEEP else weight,
            max_running=now.max_running if max_running is _KEEP else max_running,
            rate_per_minute=now.rate_per_minute if rate is _KEEP else rate)
        _print_tenants([changed], as_json)
