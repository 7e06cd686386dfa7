-- `last_event_seq`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT coalesce(max(seq), 0) AS seq FROM job_events
