-- API keys besides API_KEY (`conveyor.keys`): only the SHA-256 of each key is kept. The id is
-- the public part of the key, so authenticating a request is one primary-key lookup.
CREATE TABLE api_keys (
    id         text PRIMARY KEY,
    hash       text NOT NULL,
    role       text NOT NULL CHECK (role IN ('admin', 'tenant', 'readonly')),
    tenant     text,
    name       text,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CHECK ((role = 'admin') = (tenant IS NULL))
);
