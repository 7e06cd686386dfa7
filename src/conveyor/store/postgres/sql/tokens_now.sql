-- `tokens_now`: generated from conveyor/store/postgres/statements.py by
-- `python -m conveyor.store.postgres.render`; do not edit.
SELECT least(%(capacity)s, tokens + greatest(0, extract(epoch FROM now() - updated_at)::float8) * %(refill)s) AS tokens
  FROM rate_limits WHERE tenant = %(tenant)s
