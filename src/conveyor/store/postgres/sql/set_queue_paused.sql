-- `set_queue_paused`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
INSERT INTO queues AS q (name, paused, paused_at, updated_at)
VALUES (%(name)s, %(paused)s, CASE WHEN %(paused)s THEN now() END, now())
    ON CONFLICT (name) DO UPDATE
   SET paused = excluded.paused,
       paused_at = CASE WHEN excluded.paused AND q.paused THEN q.paused_at
                        ELSE excluded.paused_at END,
       updated_at = excluded.updated_at
