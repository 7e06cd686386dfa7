-- Queue operations: a row per queue an operator has paused (or resumed). Workers skip the
-- pending jobs of a paused queue; a queue without a row is running.
CREATE TABLE queues (
    name       text PRIMARY KEY,
    paused     boolean NOT NULL DEFAULT false,
    paused_at  timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
