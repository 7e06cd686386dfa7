-- Searching the history (`conveyor.store.search`): each filter of GET /jobs through an index.
-- Every index here holds finished rows only (`finished_at IS NOT NULL`): a row enters it once,
-- when it finishes, so submits, leases and heartbeats do not pay for search. Live rows (few in
-- a healthy system) are searched through the live indexes.
CREATE INDEX jobs_done_tenant ON jobs (tenant, id) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_done_queue ON jobs (queue, id) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_done_task ON jobs (task, id) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_done_trace ON jobs (trace_id) WHERE finished_at IS NOT NULL
    AND trace_id IS NOT NULL;
-- The dead letters not retried yet, which a redrive counts and takes: a failed job enters
-- these when it fails and leaves them when it is retried. The tested columns are in them too,
-- so a redrive's count reads the index alone.
CREATE INDEX jobs_dlq_task ON jobs (task, id, status, retried_by, finished_at)
    WHERE status = 'failed' AND retried_by IS NULL;
CREATE INDEX jobs_dlq_queue ON jobs (queue, id, status, retried_by, finished_at)
    WHERE status = 'failed' AND retried_by IS NULL;
CREATE INDEX jobs_dlq_tenant ON jobs (tenant, id, status, retried_by, finished_at)
    WHERE status = 'failed' AND retried_by IS NULL;
-- Text (`error`, `payload`): a case-sensitive trigram index over the finished jobs' payload
-- and last error, an FTS5 table whose content is the jobs table itself (nothing is stored
-- twice). FTS5 writes a segment for every commit that adds to it, about 0.1 ms, which a
-- finish must not pay: the index is filled in batches instead, off the hot path, by
-- `sqlite.search.index_search` (every store process runs it every few seconds), and holds the
-- jobs finished up to `search_index_state.upto`; a search also scans the few jobs finished
-- since. An external-content index must be told every change to what it holds, exactly (a
-- 'delete' with other values than were indexed corrupts it), so the triggers follow every
-- change to an indexed row (one finished up to `upto`): inserted so, updated (first out with
-- the old values, then in with the new ones, in one trigger so in that order), deleted. A
-- finishing job (finished after `upto`) passes their WHEN and costs nothing.
CREATE TABLE search_index_state (upto REAL NOT NULL);
INSERT INTO search_index_state (upto) VALUES (0);  -- the indexer fills in what exists
CREATE VIRTUAL TABLE jobs_text USING fts5(
    payload, last_error, content = 'jobs', content_rowid = 'rowid',
    tokenize = 'trigram case_sensitive 1'
);
CREATE TRIGGER jobs_text_inserted AFTER INSERT ON jobs
    WHEN new.finished_at <= (SELECT upto FROM search_index_state)
BEGIN
    INSERT INTO jobs_text (rowid, payload, last_error)
        VALUES (new.rowid, new.payload, new.last_error);
END;
CREATE TRIGGER jobs_text_updated AFTER UPDATE OF finished_at, payload, last_error ON jobs
    WHEN old.finished_at <= (SELECT upto FROM search_index_state)
      OR new.finished_at <= (SELECT upto FROM search_index_state)
BEGIN
    INSERT INTO jobs_text (jobs_text, rowid, payload, last_error)
        SELECT 'delete', old.rowid, old.payload, old.last_error
         WHERE old.finished_at <= (SELECT upto FROM search_index_state);
    INSERT INTO jobs_text (rowid, payload, last_error)
        SELECT new.rowid, new.payload, new.last_error
         WHERE new.finished_at <= (SELECT upto FROM search_index_state);
END;
CREATE TRIGGER jobs_text_deleted AFTER DELETE ON jobs
    WHEN old.finished_at <= (SELECT upto FROM search_index_state)
BEGIN
    INSERT INTO jobs_text (jobs_text, rowid, payload, last_error)
        VALUES ('delete', old.rowid, old.payload, old.last_error);
END;
