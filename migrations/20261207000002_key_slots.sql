-- End-to-end encryption, first step: the key slots of an encrypted account (README, "Key
-- slots"). A `vault_keys` row marks the account encrypted; it is written by the first
-- successful `PUT /vault/keys` and never deleted except with the user (nothing turns an
-- account back to plaintext). `version` is the ETag's counter: every PUT bumps it with a
-- conditional UPDATE (WHERE version = the If-Match one), so two writers with one ETag
-- cannot both win. The slots are opaque to the server (the sealed bytes of steel-crypto's
-- `KeySlot`, 126 bytes); the keyring is steel-crypto's sealed keyring (generation > 0).
CREATE TABLE vault_keys (
    user_id       UUID        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    version       BIGINT      NOT NULL CHECK (version >= 1),
    keyring       BYTEA       CHECK (octet_length(keyring) BETWEEN 1 AND 32768),
    encrypted_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE key_slots (
    user_id   UUID     NOT NULL REFERENCES vault_keys (user_id) ON DELETE CASCADE,
    slot_id   BYTEA    NOT NULL CHECK (octet_length(slot_id) = 16),
    -- The order the device sent them in.
    position  SMALLINT NOT NULL CHECK (position >= 0),
    kind      TEXT     NOT NULL CHECK (kind IN ('passphrase', 'recovery_code')),
    slot      BYTEA    NOT NULL CHECK (octet_length(slot) = 126),
    PRIMARY KEY (user_id, slot_id),
    UNIQUE (user_id, position)
);

-- The last slot that opens the vault cannot be removed: at commit, an encrypted account
-- (a vault_keys row) has at least one slot, from its first PUT on. Deferred, so a PUT may delete the old set
-- before it inserts the new one; deleting the user takes the vault_keys row with it.
CREATE FUNCTION key_slots_not_empty() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    uid UUID := CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END;
BEGIN
    IF EXISTS (SELECT 1 FROM vault_keys WHERE user_id = uid)
       AND NOT EXISTS (SELECT 1 FROM key_slots WHERE user_id = uid) THEN
        RAISE EXCEPTION 'an encrypted account keeps at least one key slot'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER key_slots_not_empty
    AFTER DELETE ON key_slots
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION key_slots_not_empty();

CREATE CONSTRAINT TRIGGER vault_keys_have_slots
    AFTER INSERT ON vault_keys
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION key_slots_not_empty();
