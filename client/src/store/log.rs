//! `sync_log`: one line per thing a sync did to a note, for `steel-sync status` and for a
//! person reading `sync.db` after something surprised them.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Transaction, params};

use super::Store;
use crate::error::Result;

/// What happened to a note (`sync_log.action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogAction {
    /// The server's version was written here.
    Pulled,
    /// A pull that a crash interrupted after its rename was recorded at the next start.
    RecoveredPull,
    /// Both sides' edits were merged into the server's version.
    Merged,
    /// Both sides' edits overlapped: this device's is kept as a copy.
    ConflictCopy,
    /// This device's version was committed on the server.
    Pushed,
    /// The server's delete was applied here.
    DeletedHere,
    /// This device's delete was committed on the server.
    DeletedOnServer,
}

impl LogAction {
    pub const ALL: [LogAction; 7] = [
        LogAction::Pulled,
        LogAction::RecoveredPull,
        LogAction::Merged,
        LogAction::ConflictCopy,
        LogAction::Pushed,
        LogAction::DeletedHere,
        LogAction::DeletedOnServer,
    ];

    /// The name in the `action` column.
    pub fn as_str(self) -> &'static str {
        match self {
            LogAction::Pulled => "pulled",
            LogAction::RecoveredPull => "recovered_pull",
            LogAction::Merged => "merged",
            LogAction::ConflictCopy => "conflict_copy",
            LogAction::Pushed => "pushed",
            LogAction::DeletedHere => "deleted_here",
            LogAction::DeletedOnServer => "deleted_on_server",
        }
    }
}

impl std::fmt::Display for LogAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for LogAction {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl FromSql for LogAction {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let name = value.as_str()?;
        LogAction::ALL
            .into_iter()
            .find(|a| a.as_str() == name)
            .ok_or_else(|| FromSqlError::Other(format!("unknown sync_log action {name:?}").into()))
    }
}

/// One `sync_log` line: what happened to which note, and a detail (a version, a copy's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub action: LogAction,
    pub path: String,
    pub detail: Option<String>,
}

impl LogEntry {
    fn new(action: LogAction, path: &str, detail: Option<String>) -> Self {
        LogEntry {
            action,
            path: path.to_owned(),
            detail,
        }
    }

    pub fn pulled(path: &str, version: i64) -> Self {
        Self::new(LogAction::Pulled, path, Some(format!("v{version}")))
    }

    pub fn recovered_pull(path: &str, version: i64) -> Self {
        Self::new(LogAction::RecoveredPull, path, Some(format!("v{version}")))
    }

    pub fn merged(path: &str, with_version: i64) -> Self {
        Self::new(
            LogAction::Merged,
            path,
            Some(format!("with v{with_version}")),
        )
    }

    pub fn conflict_copy(path: &str, copy: &str) -> Self {
        Self::new(LogAction::ConflictCopy, path, Some(copy.to_owned()))
    }

    pub fn pushed(path: &str, version: i64) -> Self {
        Self::new(LogAction::Pushed, path, Some(format!("v{version}")))
    }

    pub fn deleted_here(path: &str) -> Self {
        Self::new(LogAction::DeletedHere, path, None)
    }

    pub fn deleted_on_server(path: &str, version: i64) -> Self {
        Self::new(
            LogAction::DeletedOnServer,
            path,
            Some(format!("v{version}")),
        )
    }
}

/// A `sync_log` line as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// RFC 3339, UTC.
    pub at: String,
    pub entry: LogEntry,
}

/// Appends log lines inside the caller's transaction (with the rows they describe).
pub(super) fn append(tx: &Transaction<'_>, at: &str, entries: &[LogEntry]) -> Result<()> {
    let mut add = tx.prepare_cached(
        "INSERT INTO sync_log (at, action, path, detail) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for e in entries {
        add.execute(params![at, e.action, e.path, e.detail])?;
    }
    Ok(())
}

impl Store {
    /// The last `n` log entries, oldest first.
    pub fn recent_log(&self, n: u32) -> Result<Vec<Logged>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT at, action, path, detail FROM
               (SELECT id, at, action, path, detail FROM sync_log ORDER BY id DESC LIMIT ?1)
             ORDER BY id",
        )?;
        let rows = stmt.query_map(params![n], |r| {
            Ok(Logged {
                at: r.get(0)?,
                entry: LogEntry {
                    action: r.get(1)?,
                    path: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    detail: r.get(3)?,
                },
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_as_written_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let written = [
            LogEntry::pulled("a.md", 2),
            LogEntry::conflict_copy("b.md", "b (conflict X 2026-12-02).md"),
            LogEntry::deleted_here("c.md"),
        ];
        store.apply(&[], &written).unwrap();
        let read: Vec<LogEntry> = store
            .recent_log(2)
            .unwrap()
            .into_iter()
            .map(|l| l.entry)
            .collect();
        assert_eq!(read, written[1..]);
        assert_eq!(read[1].detail, None);
    }

    #[test]
    fn every_action_reads_back_from_its_column_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let all: Vec<LogEntry> = LogAction::ALL
            .into_iter()
            .map(|a| LogEntry::new(a, "x.md", None))
            .collect();
        store.apply(&[], &all).unwrap();
        let read: Vec<LogAction> = store
            .recent_log(100)
            .unwrap()
            .into_iter()
            .map(|l| l.entry.action)
            .collect();
        assert_eq!(read, LogAction::ALL);
    }
}
