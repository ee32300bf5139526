-- Storage lifecycle, second part (issue 16): history retention, tombstone compaction, and
-- counters that make GET /account O(1) in the vault's size. Additive only: old code keeps
-- working on this schema (it neither reads nor writes the new columns).

-- Live notes, kept by every write (db::writes::Writes::commit) in the statement that moves
-- change_seq and vault_size, under the user's row lock.
ALTER TABLE users ADD COLUMN file_count BIGINT NOT NULL DEFAULT 0 CHECK (file_count >= 0);
UPDATE users u SET file_count = c.n
FROM (SELECT user_id, count(*) AS n FROM file_state WHERE NOT is_deleted GROUP BY user_id) c
WHERE u.id = c.user_id;

-- The highest change sequence value whose tombstone was compacted away, and the newest
-- deletion time among them: `state` answers 410 resync_required to a cursor below the first
-- and to a `since` before the second, because the delete it would have to report is gone.
ALTER TABLE users ADD COLUMN compacted_seq BIGINT NOT NULL DEFAULT 0 CHECK (compacted_seq >= 0);
ALTER TABLE users ADD COLUMN compacted_until TIMESTAMPTZ;
-- The highest version of any compacted tombstone: a note created afterwards starts above it,
-- so a (path, version) a device still knows never names other bytes.
ALTER TABLE users ADD COLUMN compacted_version BIGINT NOT NULL DEFAULT 0
    CHECK (compacted_version >= 0);

-- Bytes stored for the user (every retained blob, history included), kept by the statements
-- that insert and delete `blobs` rows. Its own table, not `users`: the janitor deletes blobs
-- while confirm holds the user's row and waits for those blobs' rows.
CREATE TABLE blob_usage (
    user_id       UUID   PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    stored_bytes  BIGINT NOT NULL DEFAULT 0 CHECK (stored_bytes >= 0),
    blob_count    BIGINT NOT NULL DEFAULT 0 CHECK (blob_count >= 0)
);
INSERT INTO blob_usage (user_id, stored_bytes, blob_count)
SELECT user_id, sum(size_bytes), count(*) FROM blobs GROUP BY user_id;

-- The janitor's passes across users, each on the index of its order (many rows share a
-- time: one write stamps a batch of 1,000): tombstones by deletion time, versions by age,
-- blobs by verification time.
CREATE INDEX file_state_deleted_at_idx ON file_state (deleted_at) WHERE is_deleted;
CREATE INDEX file_versions_created_idx ON file_versions (created_at, user_id, path, version);
CREATE INDEX blobs_verified_idx ON blobs (verified_at, user_id, content_hash);

-- A finished purge's prefix is swept once more after the last upload URL issued before the
-- deletion expired (an upload through it would otherwise wait for the orphan sweep).
ALTER TABLE account_purges ADD COLUMN reswept_at TIMESTAMPTZ;
