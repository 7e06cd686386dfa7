-- SQLite keeps one index fewer on the jobs table: `jobs_due` (0004) cost every insert and
-- lease a fifth of its speed here (each index is one more b-tree write per row, on the one
-- writer). An idle worker's "when is the next job due" reads `jobs_pending` instead, a scan
-- of the queue's pending entries, on the idle path only. PostgreSQL keeps its `jobs_due`.
DROP INDEX jobs_due;
