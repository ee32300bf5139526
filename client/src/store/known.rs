//! What an end-to-end encrypted vault's device knows of its own notes (`crate::crypt`): the
//! SHA-256 of the plaintext behind each blob id it pushed or pulled, kept in `sync_meta`
//! under `blob:<blob id>`. Read all at once when a sync first needs one, written in one
//! transaction per batch of notes (a row per note, each in its own commit, made a
//! 10,000-note sync spend tens of seconds in SQLite: issue 26).
//!
//! Every row is a fact about content, true whenever it is written (the blob id is the
//! vault key's HMAC of the very plaintext whose hash it names), never a claim about the
//! server: a row that a crash keeps from being written costs a download, never a wrong hash.

use std::collections::HashMap;

use rusqlite::params;

use super::Store;
use crate::error::Result;

/// The key prefix of these rows in `sync_meta`.
pub const KNOWN_PREFIX: &str = "blob:";

impl Store {
    /// Every known blob: blob id (hex) → SHA-256 (hex) of its plaintext, in one query (a
    /// range of the primary key).
    pub fn known_blobs(&self) -> Result<HashMap<String, String>> {
        let conn = self.conn();
        // `blob;` is the first key after every `blob:...` (';' follows ':').
        let mut stmt =
            conn.prepare("SELECT key, value FROM sync_meta WHERE key >= ?1 AND key < ?2")?;
        let rows = stmt.query_map(params![KNOWN_PREFIX, "blob;"], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (key, hash) = row?;
            if let Some(id) = key.strip_prefix(KNOWN_PREFIX) {
                out.insert(id.to_owned(), hash);
            }
        }
        Ok(out)
    }

    /// Records known blobs (blob id hex, plaintext hash hex), all in one transaction.
    pub fn learn_blobs(&self, known: &[(String, String)]) -> Result<()> {
        if known.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO sync_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?;
            for (id, hash) in known {
                upsert.execute(params![format!("{KNOWN_PREFIX}{id}"), hash])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_blobs_are_written_together_and_read_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.set_meta("cursor", "c1").unwrap();
        store.set_meta("blob", "not a known blob").unwrap();
        store.set_meta("blobz", "nor this").unwrap();
        let rows: Vec<(String, String)> = (0..500)
            .map(|i| (format!("{i:064x}"), format!("h{i}")))
            .collect();
        store.learn_blobs(&rows).unwrap();
        store.learn_blobs(&[]).unwrap();
        // Reopened: exactly the known rows, nothing else of sync_meta.
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let known = store.known_blobs().unwrap();
        assert_eq!(known.len(), 500);
        assert_eq!(known[&format!("{:064x}", 7)], "h7");
        assert_eq!(store.meta("cursor").unwrap().as_deref(), Some("c1"));
    }
}
