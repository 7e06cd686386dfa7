"""PostgreSQL statements sent in the server's own placeholders (`postgres.rows.positional`):
converted once, with the same values in the same order as psycopg's `%(name)s` and `%s` would
send them. The hot statements run through this path in every PostgreSQL store test; here the
conversion's own rules."""

from __future__ import annotations

import pytest

from conveyor.store.postgres import statements as sql
from conveyor.store.postgres.rows import positional


def test_named_placeholders_are_numbered_by_first_use_and_reused() -> None:
    statement = positional("SELECT %(b)s, %(a)s, %(b)s")
    assert statement.text == b"SELECT $1, $2, $1"
    assert statement.names == ("b", "a")
    assert statement.values({"a": 1, "b": 2, "unused": 3}) == [2, 1]


def test_plain_placeholders_keep_their_order_and_percent_signs_are_unescaped() -> None:
    statement = positional("SELECT %s, %s, pg_backend_pid() %% 32, '100%%'")
    assert statement.text == b"SELECT $1, $2, pg_backend_pid() % 32, '100%'"
    assert statement.names is None
    assert statement.values((1, 2)) == (1, 2)


def test_a_statement_is_converted_once() -> None:
    assert positional(sql.LEASE) is positional(sql.LEASE)


def test_the_long_hot_statements_convert_whole() -> None:
    for statement in (sql.LEASE, sql.SOLO_LEASE, sql.RESERVE, sql.FINISH):
        converted = positional(statement)
        assert b"%(" not in converted.text
        assert converted.names and len(converted.names) == len(set(converted.names))
        assert all(f"%({name})s" in statement for name in converted.names)


@pytest.mark.parametrize("query", ["SELECT %(a)s, %s", "SELECT %b", "SELECT 1 %"])
def test_what_it_cannot_convert_faithfully_is_refused(query: str) -> None:
    with pytest.raises(ValueError):
        positional(query)


def test_values_must_come_the_way_the_placeholders_ask() -> None:
    with pytest.raises(TypeError):
        positional("SELECT %(a)s").values([1])
    with pytest.raises(TypeError):
        positional("SELECT %s").values({"a": 1})
