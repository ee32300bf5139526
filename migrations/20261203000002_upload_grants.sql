-- Upload URLs handed out by push whose bytes no confirm has recorded yet. Push refuses to
-- hand out more once their sizes, within the time an unconfirmed object can stay in the
-- bucket, would pass UNCONFIRMED_UPLOAD_BYTES: the unconfirmed part of a user's bucket is
-- bounded in bytes, not only by time (README, "Storage lifecycle"). A row stops counting
-- once confirm records the content's blob; push deletes its user's spent rows, the janitor
-- everyone's expired ones.
CREATE TABLE upload_grants (
    user_id       UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content_hash  TEXT        NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    size_bytes    BIGINT      NOT NULL CHECK (size_bytes >= 0),
    granted_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, content_hash)
);

CREATE INDEX upload_grants_granted_at_idx ON upload_grants (granted_at);
