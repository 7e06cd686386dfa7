-- API keys besides API_KEY (`conveyor.keys`): only the SHA-256 of each key is kept. The id is
-- the public part of the key, so authenticating a request is one primary-key lookup.
CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'tenant', 'readonly')),
    tenant     TEXT,
    name       TEXT,
    created_at REAL NOT NULL,
    revoked_at REAL,
    CHECK ((role = 'admin') = (tenant IS NULL))
);
