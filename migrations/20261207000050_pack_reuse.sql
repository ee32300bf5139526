-- Packs reused (issue 29): a pack's index is kept with its rows so that a later packs
-- request can be answered from a live pack without reading a blob, and a bulk upload's
-- incoming pack, once checked, is kept as a read pack. `packs.size_bytes` is set when the
-- object is written and the pack may be served (NULL while it is being written: never
-- reused); `pack_blobs.byte_offset` and `length` locate each blob in the object (the rows of
-- blobs reserved but left out of the object are deleted when it is written). Rows written
-- before this migration have no index and are never reused; they expire within the hour.
ALTER TABLE packs ADD COLUMN size_bytes BIGINT CHECK (size_bytes >= 0);

ALTER TABLE pack_blobs
    ADD COLUMN byte_offset BIGINT CHECK (byte_offset >= 0),
    ADD COLUMN length      BIGINT CHECK (length >= 0);
