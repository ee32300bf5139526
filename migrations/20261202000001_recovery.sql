-- Recovery: version history, deleted notes, restore and rewind, and the mass-delete guard.

-- "The user's deleted notes, most recent first" reads only tombstones, however many live
-- notes the vault holds.
CREATE INDEX file_state_user_deleted_idx ON file_state (user_id, change_seq DESC)
    WHERE is_deleted;

-- Versions by time: rewind finds the last change at or before a moment, and the mass-delete
-- guard counts the tombstones of the last hour, without scanning a user's whole history.
CREATE INDEX file_versions_user_created_idx ON file_versions (user_id, created_at);
