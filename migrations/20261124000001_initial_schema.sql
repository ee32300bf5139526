-- Steel Notes Sync: initial schema.
--
-- users / devices / file_state carry the seed's columns; the rest is what the sync
-- protocol needs to be safe: a per-user change counter (cursor), the history of every
-- committed version, and rotating refresh tokens.

CREATE TABLE users (
    id            UUID        PRIMARY KEY DEFAULT gen_random_uuid(),
    provider      TEXT        NOT NULL CHECK (provider IN ('apple', 'google')),
    provider_sub  TEXT        NOT NULL CHECK (length(provider_sub) BETWEEN 1 AND 255),
    email         TEXT,
    vault_size    BIGINT      NOT NULL DEFAULT 0 CHECK (vault_size >= 0),
    -- Last change-sequence value handed out for this user's files. Writers bump it with
    -- UPDATE ... RETURNING inside their transaction, which holds the row lock until commit,
    -- so a user's changes commit in cursor order.
    change_seq    BIGINT      NOT NULL DEFAULT 0 CHECK (change_seq >= 0),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT users_provider_sub_key UNIQUE (provider, provider_sub)
);

CREATE TABLE devices (
    id                     UUID        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_name            TEXT        NOT NULL CHECK (length(device_name) BETWEEN 1 AND 200),
    platform               TEXT        NOT NULL CHECK (platform IN ('ios', 'macos', 'android')),
    push_token             TEXT        CHECK (length(push_token) BETWEEN 1 AND 512),
    push_environment       TEXT        NOT NULL DEFAULT 'production'
                                       CHECK (push_environment IN ('sandbox', 'production')),
    -- When the push token was last set: APNs 410 answers older than this are ignored.
    push_token_updated_at  TIMESTAMPTZ,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX devices_user_id_idx ON devices (user_id);
-- An APNs token belongs to one app install: within a user it names at most one device.
CREATE UNIQUE INDEX devices_user_push_token_key ON devices (user_id, push_token)
    WHERE push_token IS NOT NULL;

CREATE TABLE file_state (
    user_id       UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Canonical (NFC) vault-relative path.
    path          TEXT        NOT NULL CHECK (length(path) BETWEEN 1 AND 1024),
    version       BIGINT      NOT NULL CHECK (version >= 1),
    -- Lowercase hex SHA-256 of the content; a tombstone keeps the hash of what was deleted.
    content_hash  TEXT        NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    size_bytes    BIGINT      NOT NULL CHECK (size_bytes >= 0),
    is_deleted    BOOLEAN     NOT NULL DEFAULT false,
    deleted_at    TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by    UUID        REFERENCES devices (id) ON DELETE SET NULL,
    -- users.change_seq value of the last change to this row.
    change_seq    BIGINT      NOT NULL CHECK (change_seq >= 1),
    PRIMARY KEY (user_id, path),
    CONSTRAINT file_state_deleted_at_check CHECK (is_deleted = (deleted_at IS NOT NULL))
);

-- "What changed since cursor c" is an index range scan, whatever the vault size.
CREATE UNIQUE INDEX file_state_user_change_seq_key ON file_state (user_id, change_seq);

CREATE TABLE file_versions (
    user_id       UUID        NOT NULL,
    path          TEXT        NOT NULL,
    version       BIGINT      NOT NULL CHECK (version >= 1),
    content_hash  TEXT        NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    size_bytes    BIGINT      NOT NULL CHECK (size_bytes >= 0),
    is_deleted    BOOLEAN     NOT NULL DEFAULT false,
    device_id     UUID        REFERENCES devices (id) ON DELETE SET NULL,
    change_seq    BIGINT      NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, path, version),
    FOREIGN KEY (user_id, path) REFERENCES file_state (user_id, path) ON DELETE CASCADE
);

CREATE TABLE refresh_tokens (
    id           UUID        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id    UUID        REFERENCES devices (id) ON DELETE CASCADE,
    -- Every token issued by rotation from one login shares a family; a replay revokes it.
    family_id    UUID        NOT NULL,
    -- SHA-256 of the opaque token; the token itself is never stored.
    token_hash   BYTEA       NOT NULL CHECK (length(token_hash) = 32),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash)
);

CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_device_idx ON refresh_tokens (device_id);
