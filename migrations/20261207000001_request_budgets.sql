-- Per-account request budgets (README, "Fair use"): one token bucket per account and budget,
-- spent from by the bearer check's own statement (db/budgets.rs). Its own table, not `users`:
-- a read never waits behind a write holding the user's row. Every request updates one row in
-- place (no indexed column changes: a HOT update), so pages keep room for the new versions.
CREATE TABLE request_budgets (
    user_id      UUID             NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    budget       TEXT             NOT NULL CHECK (budget IN ('read', 'write', 'download')),
    -- 'Infinity' is a full bucket: the refill clamps it to the configured burst.
    tokens       DOUBLE PRECISION NOT NULL CHECK (tokens >= 0),
    refilled_at  TIMESTAMPTZ      NOT NULL,
    -- Whether the last request was granted (what the spend answers; nothing else reads it).
    granted      BOOLEAN          NOT NULL,
    PRIMARY KEY (user_id, budget)
) WITH (fillfactor = 50);

-- A new user's rows come with it, full, so a request never inserts one: the insert's
-- foreign-key check would take a share lock on the user's row, and wait behind a confirm.
CREATE FUNCTION request_budgets_of_new_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO request_budgets (user_id, budget, tokens, refilled_at, granted)
    SELECT NEW.id, b, 'Infinity', 'epoch', TRUE
    FROM unnest(ARRAY['read', 'write', 'download']) AS b
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER users_request_budgets AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION request_budgets_of_new_user();

INSERT INTO request_budgets (user_id, budget, tokens, refilled_at, granted)
SELECT u.id, b, 'Infinity', 'epoch', TRUE
FROM users u CROSS JOIN unnest(ARRAY['read', 'write', 'download']) AS b;
