//! `scan_cache`: per file on disk, its metadata when its bytes were last hashed, and that
//! hash. What the cache may vouch for is decided in [`crate::scan::cache`]; this is only its
//! storage, read whole before a scan and changed row by row after it.

use std::collections::HashMap;

use rusqlite::params;

use super::Store;
use crate::error::Result;
use crate::scan::{Cached, Stat};

impl Store {
    /// Every cached hash, by the file's path on disk (relative to the vault).
    pub fn scan_cache(&self) -> Result<HashMap<String, Cached>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT disk_path, size, mtime_ns, ctime_ns, file_id, content_hash, hashed_at_ns
             FROM scan_cache",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Cached {
                    stat: Stat {
                        // Stored as SQLite's signed integers; the bits are what matter.
                        size: r.get::<_, i64>(1)? as u64,
                        mtime_ns: r.get(2)?,
                        ctime_ns: r.get(3)?,
                        file_id: r.get::<_, i64>(4)? as u64,
                    },
                    hash: r.get(5)?,
                    hashed_at_ns: r.get(6)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stores what a scan hashed and drops the files it no longer found, in one transaction.
    pub fn update_scan_cache(&self, hashed: &[(String, Cached)], gone: &[String]) -> Result<()> {
        if hashed.is_empty() && gone.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO scan_cache (disk_path, size, mtime_ns, ctime_ns, file_id,
                     content_hash, hashed_at_ns)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (disk_path) DO UPDATE SET size = excluded.size,
                     mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns,
                     file_id = excluded.file_id, content_hash = excluded.content_hash,
                     hashed_at_ns = excluded.hashed_at_ns",
            )?;
            for (path, c) in hashed {
                upsert.execute(params![
                    path,
                    c.stat.size as i64,
                    c.stat.mtime_ns,
                    c.stat.ctime_ns,
                    c.stat.file_id as i64,
                    c.hash,
                    c.hashed_at_ns
                ])?;
            }
            let mut remove = tx.prepare_cached("DELETE FROM scan_cache WHERE disk_path = ?1")?;
            for path in gone {
                remove.execute(params![path])?;
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
    fn cached_hashes_round_trip_and_go() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let entry = |hash: &str| Cached {
            stat: Stat {
                size: u64::MAX,
                mtime_ns: -5,
                ctime_ns: 1_700_000_000_123_456_789,
                file_id: u64::MAX - 1,
            },
            hash: hash.into(),
            hashed_at_ns: 1_700_000_001_000_000_000,
        };
        store
            .update_scan_cache(
                &[("a.md".into(), entry("h1")), ("b.md".into(), entry("h2"))],
                &[],
            )
            .unwrap();
        store
            .update_scan_cache(&[("a.md".into(), entry("h3"))], &["b.md".into()])
            .unwrap();
        let read = store.scan_cache().unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read["a.md"], entry("h3"));
    }
}
