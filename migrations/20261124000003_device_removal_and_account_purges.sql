-- Signing devices out and deleting accounts.

-- A removed device is signed out for good: its tokens are revoked, its push token cleared,
-- and the bearer check refuses it. The row stays so `updated_by` in the history still
-- names it.
ALTER TABLE devices ADD COLUMN removed_at TIMESTAMPTZ;

-- Accounts deleted whose S3 objects are still being purged. Written in the transaction that
-- deletes the user's rows, so a purge that dies halfway is found and finished by a retry.
CREATE TABLE account_purges (
    user_id       UUID        PRIMARY KEY,
    requested_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    purged_at     TIMESTAMPTZ,
    objects_deleted BIGINT    NOT NULL DEFAULT 0
);
