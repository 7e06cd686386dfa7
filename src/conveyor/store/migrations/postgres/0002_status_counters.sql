-- Per-status counters: how many stored jobs are in each status. Every state change moves them
-- in its own transaction, as conveyor/lifecycle.py says, so /metrics and the list totals read
-- a few rows instead of counting the table. They replace the cumulative 'done' and 'failed'
-- counters (equal to the rows, since nothing deleted jobs) and start from the rows there.
-- Stop every process of the previous version (APIs and workers) before upgrading: they
-- would not move these counters.
DELETE FROM counters WHERE name IN ('done', 'failed');
INSERT INTO counters (name, shard, value)
SELECT 'status:' || status, 0, count(*) FROM jobs GROUP BY status;
