-- End-to-end encryption, third step: turning it on for a vault that already has notes
-- (README, "Turning encryption on for an existing vault"). A first PUT /vault/keys on such
-- an account stores its slots with `migrating` true: the account stays plaintext for every
-- route and device (the mode checks read `vault_keys` rows with `NOT migrating` only) while
-- the migrating device stages an encrypted copy of every live note here. The switch, one
-- transaction under the user's row lock, needs a staged row for the CURRENT version of every
-- live plaintext note; it then replaces the account's notes, versions and tombstones with the
-- staged ones, deletes the staged rows and clears `migrating`. An abort deletes the
-- `vault_keys` row (its slots and staged rows go with it): the account is plaintext again.
ALTER TABLE vault_keys ADD COLUMN migrating BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE migration_staged (
    user_id          UUID        NOT NULL REFERENCES vault_keys (user_id) ON DELETE CASCADE,
    -- The plaintext note and version this row encrypts: the switch takes the row only while
    -- that version is still the note's current one (a later plaintext edit makes it stale).
    source_path      TEXT        NOT NULL CHECK (length(source_path) BETWEEN 1 AND 1024),
    source_version   BIGINT      NOT NULL CHECK (source_version >= 1),
    path_key         TEXT        NOT NULL CHECK (path_key ~ '^[0-9a-f]{64}$'),
    -- The ciphertext's blob: verified (a `blobs` row) before the row is written.
    content_hash     TEXT        NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    size_bytes       BIGINT      NOT NULL CHECK (size_bytes >= 0),
    blob_id          TEXT        NOT NULL CHECK (blob_id ~ '^[0-9a-f]{64}$'),
    sealed_path      BYTEA       NOT NULL CHECK (octet_length(sealed_path) BETWEEN 1 AND 2048),
    sealed_manifest  BYTEA       NOT NULL CHECK (octet_length(sealed_manifest) BETWEEN 1 AND 2048),
    staged_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    staged_by        UUID        REFERENCES devices (id) ON DELETE SET NULL,
    PRIMARY KEY (user_id, source_path),
    UNIQUE (user_id, path_key)
);

-- The janitor keeps a blob a staged row names (its collection's "unused" test reads this).
CREATE INDEX migration_staged_user_hash_idx ON migration_staged (user_id, content_hash);
