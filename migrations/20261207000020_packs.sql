-- Packs (POST /vault/packs): a disposable cache of many blobs back to back in one object
-- under `packs/{user_id}/{pack_id}`, for a device that needs many blobs at once. A pack is
-- served only while its row exists; the rows say which blobs each pack holds so that the
-- janitor, when it collects a blob (its `blobs` row locked FOR UPDATE), deletes every pack
-- holding it, object and rows, in the same transaction. The builder records a pack's blobs
-- while it holds their `blobs` rows FOR SHARE, before it reads a byte, so the two always
-- agree (README, "Packs"). Packs are never counted in `blob_usage`; the janitor deletes
-- packs older than their lifetime, and a bucket lifecycle rule on `packs/` deletes any
-- object a crash left behind.
CREATE TABLE packs (
    id          UUID        PRIMARY KEY,
    user_id     UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX packs_created_at_idx ON packs (created_at);
CREATE INDEX packs_user_idx ON packs (user_id);

CREATE TABLE pack_blobs (
    pack_id       UUID NOT NULL REFERENCES packs (id) ON DELETE CASCADE,
    user_id       UUID NOT NULL,
    content_hash  TEXT NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    PRIMARY KEY (pack_id, content_hash)
);

-- The janitor's look-up: the packs holding a collected blob.
CREATE INDEX pack_blobs_blob_idx ON pack_blobs (user_id, content_hash);
