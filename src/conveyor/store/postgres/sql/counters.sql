-- `counters`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT name, sum(value) AS value FROM counters GROUP BY name
