//! `<vault>/.steel/sync.db`: what this device and the server last agreed on, per file.
//!
//! - `sync_state`: one row per file path (Unicode NFC, as the server names it): the content
//!   hash and server version both sides last agreed on (the base of a three-way merge), or
//!   `server_version = 0` for a file the server refused (`sync_status = 'rejected'`).
//! - `sync_meta`: key/value, among them `cursor`, the server's change cursor, and an
//!   encrypted vault's known blobs ([`known`]).
//! - `sync_pending`: a pulled version being written to disk, recorded once its bytes are in
//!   a temporary file and before that is renamed into place. After a crash, a temporary
//!   file still there means the note was never written; gone means it was, so the note on
//!   disk (or its absence, if the user deleted it since) is judged against that version.
//! - `sync_log`: what each sync did, newest last ([`log`]).
//! - `scan_cache`: each file's metadata when its bytes were last hashed ([`scan_cache`]),
//!   so a scan re-hashes only what changed.

pub mod known;
mod log;
mod recovered;
mod scan_cache;

use std::collections::HashMap;
use std::path::Path;

use chrono::Utc;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};

use crate::STATE_DIR;
use crate::error::{Result, SyncError};

pub use log::{LogAction, LogEntry, Logged};

/// One version of a note on the server: its number (1, 2, ... per path; 0 never exists)
/// and the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    pub number: i64,
    pub hash: String,
}

impl Version {
    pub fn new(number: i64, hash: impl Into<String>) -> Self {
        Version {
            number,
            hash: hash.into(),
        }
    }
}

/// `sync_state.sync_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    /// Both sides hold the row's version.
    Synced,
    /// The server refused the row's content; it is not sent again until it changes.
    Rejected,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Synced => "synced",
            SyncStatus::Rejected => "rejected",
        }
    }
}

impl ToSql for SyncStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl FromSql for SyncStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value.as_str()? {
            "synced" => Ok(SyncStatus::Synced),
            "rejected" => Ok(SyncStatus::Rejected),
            other => Err(FromSqlError::Other(
                format!("unknown sync_status {other:?}").into(),
            )),
        }
    }
}

/// One `sync_state` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub content_hash: Option<String>,
    pub server_version: i64,
    pub sync_status: SyncStatus,
}

impl Row {
    /// The version both sides agreed on, if any.
    pub fn base(&self) -> Option<Version> {
        match (&self.content_hash, self.server_version) {
            (Some(h), v) if v > 0 => Some(Version::new(v, h.as_str())),
            _ => None,
        }
    }

    /// The content the server refused, when it did.
    pub fn refused(&self) -> Option<&str> {
        match self.sync_status {
            SyncStatus::Rejected => self.content_hash.as_deref(),
            SyncStatus::Synced => None,
        }
    }
}

/// One change to `sync_state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowChange {
    /// Both sides now agree on this version.
    Agreed { path: String, version: Version },
    /// The server refused this content.
    Rejected { path: String, hash: String },
    /// Neither side has the file any more.
    Forget { path: String },
}

impl RowChange {
    pub fn path(&self) -> &str {
        match self {
            RowChange::Agreed { path, .. }
            | RowChange::Rejected { path, .. }
            | RowChange::Forget { path } => path,
        }
    }
}

/// A pull interrupted between its temporary file and `sync_state` (`sync_pending`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPull {
    pub path: String,
    pub version: Version,
    /// The temporary file, relative to the vault.
    pub temp_path: String,
}

/// Behind a mutex so a sync future can move between threads (`Connection` is not `Sync`).
pub struct Store {
    conn: std::sync::Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sync_state (
    relative_path  TEXT PRIMARY KEY,
    content_hash   TEXT,
    server_version INTEGER NOT NULL DEFAULT 0,
    sync_status    TEXT NOT NULL DEFAULT 'synced',
    last_synced_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_pending (
    relative_path  TEXT PRIMARY KEY,
    server_version INTEGER NOT NULL,
    content_hash   TEXT NOT NULL,
    temp_path      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TEXT NOT NULL,
    action TEXT NOT NULL,
    path   TEXT,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS sync_recovered (
    relative_path  TEXT NOT NULL,
    server_version INTEGER NOT NULL,
    PRIMARY KEY (relative_path, server_version)
);
CREATE TABLE IF NOT EXISTS scan_cache (
    disk_path    TEXT PRIMARY KEY,
    size         INTEGER NOT NULL,
    mtime_ns     INTEGER NOT NULL,
    ctime_ns     INTEGER NOT NULL,
    file_id      INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    hashed_at_ns INTEGER NOT NULL
);
";

impl Store {
    pub fn open(vault: &Path) -> Result<Self> {
        let dir = vault.join(STATE_DIR);
        std::fs::create_dir_all(&dir).map_err(SyncError::io(&dir))?;
        let conn = Connection::open(dir.join("sync.db"))?;
        // WAL + synchronous=NORMAL: a committed row survives a crash of this process, and
        // `status` can read while a sync writes.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Self::with_schema(conn)
    }

    /// A `sync.db` in memory (the simulation's devices): it lasts as long as the `Store`,
    /// which a simulated restart hands to the next syncer, as a real one opens the file.
    pub fn in_memory() -> Result<Self> {
        Self::with_schema(Connection::open_in_memory()?)
    }

    /// A `sync.db` in memory that every `Store` opened with the same `name` shares (an
    /// encrypted vault's device opens a second connection for its `Crypt`, as the real
    /// client opens the file twice). It lasts while one of them is open; `name` must be
    /// unique in the process.
    pub fn in_memory_shared(name: &str) -> Result<Self> {
        use rusqlite::OpenFlags;
        let uri = format!("file:{name}?mode=memory&cache=shared");
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        Self::with_schema(Connection::open_with_flags(uri, flags)?)
    }

    fn with_schema(conn: Connection) -> Result<Self> {
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: std::sync::Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite itself consistent.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes whenever anything is committed to `sync.db`, by this connection
    /// (`total_changes`) or another one (`PRAGMA data_version`): what was read from it is
    /// current while this is the same.
    pub fn generation(&self) -> Result<(i64, u64)> {
        let conn = self.conn();
        let others: i64 = conn.pragma_query_value(None, "data_version", |r| r.get(0))?;
        Ok((others, conn.total_changes()))
    }

    pub fn rows(&self) -> Result<HashMap<String, Row>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT relative_path, content_hash, server_version, sync_status FROM sync_state",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Row {
                    content_hash: r.get(1)?,
                    server_version: r.get(2)?,
                    sync_status: r.get(3)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Applies changes and their log lines in one transaction.
    pub fn apply(&self, changes: &[RowChange], log: &[LogEntry]) -> Result<()> {
        if changes.is_empty() && log.is_empty() {
            return Ok(());
        }
        let now = Utc::now().to_rfc3339();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO sync_state (relative_path, content_hash, server_version, sync_status, last_synced_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (relative_path) DO UPDATE SET content_hash = excluded.content_hash,
                     server_version = excluded.server_version, sync_status = excluded.sync_status,
                     last_synced_at = excluded.last_synced_at",
            )?;
            let mut forget =
                tx.prepare_cached("DELETE FROM sync_state WHERE relative_path = ?1")?;
            let mut settled =
                tx.prepare_cached("DELETE FROM sync_pending WHERE relative_path = ?1")?;
            for change in changes {
                settled.execute(params![change.path()])?;
                match change {
                    RowChange::Agreed { path, version } => upsert.execute(params![
                        path,
                        version.hash,
                        version.number,
                        SyncStatus::Synced,
                        now
                    ])?,
                    RowChange::Rejected { path, hash } => {
                        upsert.execute(params![path, hash, 0, SyncStatus::Rejected, now])?
                    }
                    RowChange::Forget { path } => forget.execute(params![path])?,
                };
            }
            log::append(&tx, &now, log)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Notes that `path` is about to become the server's `version`, now in `temp_path`.
    pub fn begin_pull(&self, path: &str, version: &Version, temp_path: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO sync_pending (relative_path, server_version, content_hash, temp_path)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (relative_path) DO UPDATE SET server_version = excluded.server_version,
                 content_hash = excluded.content_hash, temp_path = excluded.temp_path",
            params![path, version.number, version.hash, temp_path],
        )?;
        Ok(())
    }

    /// Pulls interrupted before they were recorded.
    pub fn pending_pulls(&self) -> Result<Vec<PendingPull>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT relative_path, server_version, content_hash, temp_path FROM sync_pending",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PendingPull {
                path: r.get(0)?,
                version: Version::new(r.get(1)?, r.get::<_, String>(2)?),
                temp_path: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn clear_pending(&self, path: &str) -> Result<()> {
        self.conn().execute(
            "DELETE FROM sync_pending WHERE relative_path = ?1",
            params![path],
        )?;
        Ok(())
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT value FROM sync_meta WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO sync_meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    pub fn clear_meta(&self, key: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM sync_meta WHERE key = ?1", params![key])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_forget() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .apply(
                &[
                    RowChange::Agreed {
                        path: "a.md".into(),
                        version: Version::new(3, "h3"),
                    },
                    RowChange::Rejected {
                        path: "b.md".into(),
                        hash: "hb".into(),
                    },
                ],
                &[LogEntry::pushed("a.md", 3)],
            )
            .unwrap();
        let rows = store.rows().unwrap();
        assert_eq!(rows["a.md"].base(), Some(Version::new(3, "h3")));
        assert_eq!(rows["b.md"].base(), None);
        assert_eq!(rows["b.md"].sync_status, SyncStatus::Rejected);
        store
            .apply(
                &[RowChange::Forget {
                    path: "a.md".into(),
                }],
                &[],
            )
            .unwrap();
        assert!(!store.rows().unwrap().contains_key("a.md"));
        assert_eq!(store.recent_log(10).unwrap().len(), 1);
        store.set_meta("cursor", "c5").unwrap();
        store.set_meta("cursor", "c6").unwrap();
        assert_eq!(store.meta("cursor").unwrap().as_deref(), Some("c6"));
        // Reopening keeps everything.
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.meta("cursor").unwrap().as_deref(), Some("c6"));
    }

    #[test]
    fn an_interrupted_pull_is_kept_until_a_row_settles_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .begin_pull("a.md", &Version::new(2, "h2"), "tmp-a")
            .unwrap();
        let pending = store.pending_pulls().unwrap();
        assert_eq!(
            pending,
            [PendingPull {
                path: "a.md".into(),
                version: Version::new(2, "h2"),
                temp_path: "tmp-a".into(),
            }]
        );
        store
            .apply(
                &[RowChange::Agreed {
                    path: "a.md".into(),
                    version: Version::new(2, "h2"),
                }],
                &[],
            )
            .unwrap();
        assert!(store.pending_pulls().unwrap().is_empty());
    }

    #[test]
    fn the_generation_moves_with_every_commit_of_either_connection() {
        let agreed = |n: i64| RowChange::Agreed {
            path: "a.md".into(),
            version: Version::new(n, "h"),
        };
        let dir = tempfile::tempdir().unwrap();
        let shared = Store::in_memory_shared("generation-test").unwrap();
        let pairs = [
            (
                Store::open(dir.path()).unwrap(),
                Store::open(dir.path()).unwrap(),
            ),
            (shared, Store::in_memory_shared("generation-test").unwrap()),
        ];
        for (engine, crypt) in pairs {
            let g0 = crypt.generation().unwrap();
            assert_eq!(crypt.generation().unwrap(), g0, "reads change nothing");
            let _ = crypt.rows().unwrap();
            assert_eq!(crypt.generation().unwrap(), g0);
            engine.apply(&[agreed(1)], &[]).unwrap();
            let g1 = crypt.generation().unwrap();
            assert_ne!(g1, g0, "another connection's commit");
            crypt.apply(&[agreed(2)], &[]).unwrap();
            let g2 = crypt.generation().unwrap();
            assert_ne!(g2, g1, "its own commit");
            engine.set_meta("cursor", "c1").unwrap();
            assert_ne!(crypt.generation().unwrap(), g2, "any table");
        }
    }
}
