//! The bucket's key layout: where blobs, packs and incoming packs live, and the keys the
//! janitor reads back. Pure functions, no I/O.

use crate::domain::{ContentHash, UserId};

pub fn blob_key(user_id: UserId, hash: &ContentHash) -> String {
    format!("{user_id}/blobs/{}", hash.to_hex())
}

/// A pack's key: under `packs/`, the prefix the bucket's lifecycle rule expires, never
/// under the user's blob prefix (packs are a cache, not stored data).
pub fn pack_key(user_id: UserId, pack_id: uuid::Uuid) -> String {
    format!("{PACK_PREFIX}{user_id}/{pack_id}")
}

/// The prefix of every pack object.
pub const PACK_PREFIX: &str = "packs/";

/// An incoming pack's key (bulk upload): under `incoming/`, never under the user's blob
/// prefix, so no blob key ever holds bytes that were not checked against their hash. The
/// janitor's sweep deletes it as a key that names no blob once it is older than the orphan
/// age, and the bucket's lifecycle rule on `incoming/` after a day.
pub fn incoming_key(user_id: UserId, pack_id: uuid::Uuid) -> String {
    format!("{INCOMING_PREFIX}{user_id}/{pack_id}")
}

/// The key under which an incoming pack's upload grant is kept (`upload_grants`, with the
/// blobs' grants): the SHA-256 of its object key, which no blob a client can upload hashes
/// to, so confirming a blob never makes a pack's grant stop counting.
pub fn incoming_grant_key(user_id: UserId, pack_id: uuid::Uuid) -> ContentHash {
    ContentHash::of(incoming_key(user_id, pack_id).as_bytes())
}

/// The prefix of every incoming pack.
pub const INCOMING_PREFIX: &str = "incoming/";

/// The user and hash a blob key names; `None` for any other key.
pub fn parse_blob_key(key: &str) -> Option<(UserId, ContentHash)> {
    let (user, hash) = key.split_once("/blobs/")?;
    let user = uuid::Uuid::parse_str(user).ok()?;
    Some((UserId(user), ContentHash::parse(hash).ok()?))
}
