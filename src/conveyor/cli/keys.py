"""`conveyor keys create | list | revoke`, over the API with an admin key (API_KEY)."""

from __future__ import annotations

import click

from conveyor.cli.remote import api_options, client, print_json, print_table
from conveyor.keys import ROLES
from conveyor.wire import KeyOut


def _print_keys(keys: list[KeyOut], as_json: bool) -> None:
    if as_json:
        print_json(keys)
        return
    print_table(("id", "role", "tenant", "name", "created", "revoked"),
                [(k.id, k.role, k.tenant or "-", k.name or "-",
                  "-" if k.created_at is None else k.created_at.isoformat(timespec="seconds"),
                  "-" if k.revoked_at is None else k.revoked_at.isoformat(timespec="seconds"))
                 for k in keys])


@click.group()
def keys() -> None:
    """Make, list and revoke API keys (over the API, with an admin key)."""


@keys.command("create")
@click.option("--tenant", default=None, help="The key's tenant (for tenant and readonly keys).")
@click.option("--role", type=click.Choice(ROLES), default="tenant", show_default=True,
              help="tenant: the tenant's jobs; readonly: read them; admin: everything.")
@click.option("--name", default=None, help="What the key is for.")
@api_options
def keys_create(tenant: str | None, role: str, name: str | None, url: str,
                api_key: str | None, as_json: bool) -> None:
    """Make a key and print it: this is the only time it is shown."""
    with client(url, api_key) as api:
        made = api.create_key(role=role, tenant=tenant, name=name)
    if as_json:
        print_json(made)
        return
    click.echo(made.key)
    click.echo(f"(id {made.id}, role {made.role}, tenant {made.tenant or '-'}: store the key "
               "now, it is not shown again)", err=True)


@keys.command("list")
@api_options
def keys_list(url: str, api_key: str | None, as_json: bool) -> None:
    """Every key (never the keys themselves), revoked ones included."""
    with client(url, api_key) as api:
        _print_keys(api.keys(), as_json)


@keys.command("revoke")
@click.argument("key_id")
@api_options
def keys_revoke(key_id: str, url: str, api_key: str | None, as_json: bool) -> None:
    """Revoke the key with this id: within seconds no API process accepts it."""
    with client(url, api_key) as api:
        _print_keys([api.revoke_key(key_id)], as_json)
