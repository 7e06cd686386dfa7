-- `take_tokens`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
INSERT INTO rate_limits AS r (tenant, tokens, updated_at)
SELECT tenant, %(capacity)s - wanted, now()
  FROM unnest(%(tenants)s::text[], %(wanted)s::float8[]) AS t(tenant, wanted)
 ORDER BY tenant
    ON CONFLICT (tenant) DO UPDATE
   SET tokens = least(%(capacity)s, r.tokens + greatest(0, extract(epoch FROM now() - r.updated_at)::float8) * %(refill)s)
                - (%(capacity)s - excluded.tokens),
       updated_at = greatest(r.updated_at, now())
 WHERE least(%(capacity)s, r.tokens + greatest(0, extract(epoch FROM now() - r.updated_at)::float8) * %(refill)s)
       >= %(capacity)s - excluded.tokens
RETURNING tenant
