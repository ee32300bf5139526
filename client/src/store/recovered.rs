//! Versions this device made on the server by `restore` or `rewind` rather than by a sync
//! (`sync_recovered`). A sync takes a version made by this device that it never recorded for
//! its own push whose answer was lost, and a missing file then for a delete made here since;
//! a recovered version is neither: it comes down like any other device's change.

use std::collections::HashSet;

use rusqlite::params;

use super::Store;
use crate::error::Result;

impl Store {
    /// Remembers `(path, version)` pairs a recovery command made.
    pub fn record_recovered(&self, versions: &[(String, i64)]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare(
                "INSERT OR IGNORE INTO sync_recovered (relative_path, server_version)
                 VALUES (?1, ?2)",
            )?;
            for (path, version) in versions {
                insert.execute(params![path, version])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every recorded recovered version.
    pub fn recovered(&self) -> Result<HashSet<(String, i64)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT relative_path, server_version FROM sync_recovered")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Drops the records of versions older than what `sync_state` now agrees on (they can
    /// never be listed again).
    pub fn prune_recovered(&self) -> Result<()> {
        self.conn().execute(
            "DELETE FROM sync_recovered WHERE EXISTS (
                 SELECT 1 FROM sync_state s
                 WHERE s.relative_path = sync_recovered.relative_path
                   AND s.server_version >= sync_recovered.server_version)",
            [],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovered_versions_are_kept_until_sync_state_passes_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .record_recovered(&[("a.md".into(), 3), ("b.md".into(), 5), ("a.md".into(), 3)])
            .unwrap();
        assert_eq!(store.recovered().unwrap().len(), 2);
        store
            .apply(
                &[crate::store::RowChange::Agreed {
                    path: "a.md".into(),
                    version: crate::store::Version::new(3, "h"),
                }],
                &[],
            )
            .unwrap();
        store.prune_recovered().unwrap();
        let left: Vec<_> = store.recovered().unwrap().into_iter().collect();
        assert_eq!(left, [("b.md".to_owned(), 5)]);
    }
}
