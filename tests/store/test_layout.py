"""Both drivers keep one floor plan (`conveyor.store.driver`): the same modules for the same
concerns, and one function per Store operation, named like it, in the module the table says."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from conveyor.store import base, driver

DRIVERS = ["sqlite", "postgres"]
SHARED_MODULES = {"producers", "workers", "queues", "reads", "rows", "migrate", "store", "keys",
                  "events", "retention", "dlq", "schedules", "tenants", "stats", "search"}


def modules(name: str) -> set[str]:
    package = importlib.import_module(f"conveyor.store.{name}")
    return {info.name for info in pkgutil.iter_modules(package.__path__)}


def test_the_drivers_share_their_module_names() -> None:
    for name in DRIVERS:
        assert modules(name) >= SHARED_MODULES, name
    only_postgres = modules("postgres") - SHARED_MODULES
    # `transactional`: enqueueing in the application's own transaction, PostgreSQL's alone.
    assert only_postgres == {"conninfo", "listener", "statements", "render", "transactional"}
    only_sqlite = modules("sqlite") - SHARED_MODULES
    # `wake`: cross-process wake-ups, what LISTEN/NOTIFY is to postgres; `writelock`: writers
    # of all processes queue for the file in the kernel, as PostgreSQL's backends do for rows.
    assert only_sqlite == {"wake", "writelock"}


@pytest.mark.parametrize("name", DRIVERS)
def test_each_operation_lives_where_the_table_says(name: str) -> None:
    for operation, module_name in driver.OPERATIONS.items():
        module = importlib.import_module(f"conveyor.store.{name}.{module_name}")
        assert inspect.isfunction(getattr(module, operation, None)), (
            f"{name}.{module_name} lacks {operation}")
    for module_name in ("producers", "workers", "queues", "reads", "retention", "dlq",
                        "schedules", "keys", "tenants", "stats"):
        module = importlib.import_module(f"conveyor.store.{name}.{module_name}")
        public = {n for n, v in vars(module).items() if inspect.isfunction(v)
                  and v.__module__ == module.__name__ and not n.startswith("_")}
        assert public == {
            op for op, where in driver.OPERATIONS.items() if where == module_name}


def test_the_table_covers_the_store_protocol() -> None:
    protocol = {n for n, v in vars(base.Store).items()
                if inspect.iscoroutinefunction(v) and not n.startswith("_")}
    # per driver, or the group commit's
    own = {"close", "ping", "wait_for_change", "wait_for_work", "submit"}
    internal = {"submit_each"}  # what `submit` writes its groups with
    assert protocol - own == set(driver.OPERATIONS) - internal
