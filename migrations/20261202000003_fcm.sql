-- Android devices register FCM registration tokens (issue 18). Today's are about 160
-- characters and FCM documents no maximum: the column takes up to 1,024 (the API's limit for
-- Android), which keeps the (user_id, push_token) unique index entry far under B-tree's
-- ~2,700-byte limit. Additive: every stored token already fits.
ALTER TABLE devices DROP CONSTRAINT devices_push_token_check;
ALTER TABLE devices ADD CONSTRAINT devices_push_token_check
    CHECK (length(push_token) BETWEEN 1 AND 1024);
