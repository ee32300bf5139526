-- Case-insensitive path collisions and verified blobs.

-- iOS and macOS file systems are case-insensitive: two live paths that differ only by letter
-- case would overwrite each other on a device. `path_key` is the path case-folded (computed
-- by the API from the NFC path), unique among a user's live files.
ALTER TABLE file_state ADD COLUMN path_key TEXT;
UPDATE file_state SET path_key = lower(path);
ALTER TABLE file_state ALTER COLUMN path_key SET NOT NULL;
CREATE UNIQUE INDEX file_state_user_live_path_key ON file_state (user_id, path_key)
    WHERE NOT is_deleted;

-- Blobs (S3 key {user_id}/blobs/{content_hash}) whose size and SHA-256 `confirm` verified.
-- `push` answers "already uploaded" only for these, so an object with wrong bytes (some
-- S3-compatible stores keep a body that failed its checksum) is uploaded again, never trusted.
CREATE TABLE blobs (
    user_id       UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content_hash  TEXT        NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    size_bytes    BIGINT      NOT NULL CHECK (size_bytes >= 0),
    verified_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, content_hash)
);
