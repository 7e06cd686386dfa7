-- Version 6 is SQLite's alone: it dropped SQLite's `jobs_due` index, which PostgreSQL keeps
-- (see the SQLite migration of the same number). Nothing changes here; the file keeps both
-- drivers' versions numbered alike.
SELECT 1;
