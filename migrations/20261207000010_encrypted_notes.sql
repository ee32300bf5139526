-- End-to-end encryption, second step: the notes of an encrypted account (README, "Encrypted
-- notes on the server"). Such a note is keyed by its path key (64 hex) in `path`, so every
-- existing index, key and lookup works on it unchanged; each of its versions also stores
-- the sealed path and manifest (opaque to the server), the version the manifest was sealed
-- as (a tombstone, restore or rewind copies its source's) and the blob id (HMAC of the
-- plaintext), which dedupes uploads. Additive: a plaintext version leaves all four NULL,
-- and old code neither reads nor writes them.
ALTER TABLE file_versions
    ADD COLUMN sealed_path      BYTEA CHECK (octet_length(sealed_path) BETWEEN 1 AND 2048),
    ADD COLUMN sealed_manifest  BYTEA CHECK (octet_length(sealed_manifest) BETWEEN 1 AND 2048),
    ADD COLUMN manifest_version BIGINT CHECK (manifest_version >= 1),
    ADD COLUMN blob_id          TEXT CHECK (blob_id ~ '^[0-9a-f]{64}$'),
    ADD CONSTRAINT file_versions_sealed_all_or_none CHECK (
        (sealed_path IS NULL) = (sealed_manifest IS NULL)
        AND (sealed_path IS NULL) = (manifest_version IS NULL)
        AND (sealed_path IS NULL) = (blob_id IS NULL));

-- "Does the account already hold a verified blob of this blob id" (push and confirm's
-- dedupe) is an index lookup.
CREATE INDEX file_versions_user_blob_id_idx ON file_versions (user_id, blob_id)
    WHERE blob_id IS NOT NULL;
