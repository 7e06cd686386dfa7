-- Per-status counters: how many stored jobs are in each status. Every state change moves them
-- in its own transaction, as conveyor/lifecycle.py says, so /metrics and the list totals read
-- a few rows instead of counting the table. Started from the rows already there.
-- Stop every process of the previous version (APIs and workers) before upgrading: they
-- would not move these counters.
INSERT INTO counters (name, value)
SELECT 'status:' || status, count(*) FROM jobs GROUP BY status;
