-- Storage lifecycle (issue 16): the janitor's lookups and its resumable position.

-- "Does any version or file still use this blob" is an index lookup, not a scan.
CREATE INDEX file_versions_user_hash_idx ON file_versions (user_id, content_hash);
CREATE INDEX file_state_user_hash_idx ON file_state (user_id, content_hash);

-- Where each janitor task stopped (the bucket sweep's last key), so the next run goes on
-- from there.
CREATE TABLE janitor_progress (
    task        TEXT        PRIMARY KEY,
    position    TEXT        NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
