//! Counts the SQL statements the handlers issue, from the events sqlx emits.
//!
//! sqlx 0.8 logs every statement it executes (through `QueryLogger`) as a tracing event with
//! target `sqlx::query`, at DEBUG (WARN when slow). A layer that sees only that target
//! counts them. `BEGIN` is the one statement sqlx sends without logging it (it is queued as
//! a simple query when a transaction starts); every transaction ends with a logged `COMMIT`
//! or `ROLLBACK`, so each of those adds the `BEGIN` that opened it. The counter is global:
//! the part that reads it runs one request at a time, so the difference around a call is
//! that call's statements.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

static STATEMENTS: AtomicU64 = AtomicU64::new(0);
/// The first words of every statement since the last [`take_log`], for the report.
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());
const MAX_LOG: usize = 10_000;

struct CountStatements;

/// The event's `summary` (first words) and `db.statement` (the whole SQL, empty when the
/// summary is all of it).
#[derive(Default)]
struct Statement {
    summary: String,
    sql: String,
}

impl Visit for Statement {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_owned(),
            "db.statement" => self.sql = value.to_owned(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = || format!("{value:?}").trim_matches('"').to_owned();
        match field.name() {
            "summary" if self.summary.is_empty() => self.summary = text(),
            "db.statement" if self.sql.is_empty() => self.sql = text(),
            _ => {}
        }
    }
}

impl<S: Subscriber> Layer<S> for CountStatements {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut statement = Statement::default();
        event.record(&mut statement);
        let sql = if statement.sql.trim().is_empty() {
            statement.summary
        } else {
            statement.sql
        };
        let upper = sql.trim_start().to_ascii_uppercase();
        // The unlogged BEGIN of this transaction.
        let closes_transaction = upper.starts_with("COMMIT") || upper.starts_with("ROLLBACK");
        STATEMENTS.fetch_add(1 + u64::from(closes_transaction), Ordering::SeqCst);
        let mut log = LOG.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: parts that never read the log (concurrency) must not grow it forever.
        if log.len() < MAX_LOG {
            log.push(describe(&sql));
        }
    }
}

/// A statement in a few words: what it does to which tables, e.g. `SELECT users FOR
/// UPDATE`, `WITH: INSERT file_state + INSERT file_versions`, `COMMIT (+ its BEGIN)`.
pub fn describe(sql: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let first = words
        .first()
        .map(|w| w.to_ascii_uppercase())
        .unwrap_or_default();
    if first == "COMMIT" || first == "ROLLBACK" {
        return format!("{first} (+ its BEGIN)");
    }
    // Names of common table expressions are not tables.
    let ctes: Vec<String> = words
        .windows(3)
        .filter(|w| w[1].eq_ignore_ascii_case("AS") && w[2].starts_with('('))
        .map(|w| w[0].trim_matches(|c: char| c == ',').to_ascii_lowercase())
        .collect();
    let mut touched: Vec<(String, String)> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let keyword = w.to_ascii_uppercase();
        let verb = match keyword.as_str() {
            "FROM" | "JOIN" => "SELECT",
            "INTO" => "INSERT",
            // Not `FOR UPDATE`, not `DO UPDATE SET`.
            "UPDATE"
                if i == 0
                    || !matches!(words[i - 1].to_ascii_uppercase().as_str(), "FOR" | "DO") =>
            {
                "UPDATE"
            }
            _ => continue,
        };
        let Some(next) = words.get(i + 1) else {
            continue;
        };
        let name: String = next
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() || name == "unnest" || name == "set" || ctes.contains(&name) {
            continue;
        }
        let entry = (verb.to_owned(), name);
        if !touched.contains(&entry) {
            touched.push(entry);
        }
    }
    let lock = if sql.to_ascii_uppercase().contains("FOR UPDATE") {
        " FOR UPDATE"
    } else {
        ""
    };
    let only_reads = touched.iter().all(|(v, _)| v == "SELECT");
    let text = if only_reads {
        let tables: Vec<&str> = touched.iter().map(|(_, t)| t.as_str()).collect();
        format!("SELECT {}{lock}", tables.join(", "))
    } else {
        touched
            .iter()
            .filter(|(v, _)| v != "SELECT")
            .map(|(v, t)| format!("{v} {t}"))
            .collect::<Vec<_>>()
            .join(" + ")
    };
    if first == "WITH" {
        format!("WITH: {text}")
    } else {
        text
    }
}

/// Installs the global subscriber: the statement counter on `sqlx::query`, and warnings and
/// errors of everything else on stderr (a handler's "change notice not queued" must show).
pub fn install() -> anyhow::Result<()> {
    let counter =
        CountStatements.with_filter(Targets::new().with_target("sqlx::query", Level::TRACE));
    let warnings = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(true)
        .with_filter(
            Targets::new()
                .with_default(Level::WARN)
                // Slow statements are counted above, not printed.
                .with_target("sqlx::query", tracing::level_filters::LevelFilter::OFF),
        );
    tracing_subscriber::registry()
        .with(counter)
        .with(warnings)
        .try_init()
        .map_err(|e| anyhow::anyhow!("tracing subscriber: {e}"))
}

/// Statements executed so far (with the implied `BEGIN`s).
pub fn count() -> u64 {
    STATEMENTS.load(Ordering::SeqCst)
}

/// The statement summaries recorded since the last call, oldest first.
pub fn take_log() -> Vec<String> {
    std::mem::take(&mut *LOG.lock().unwrap_or_else(|e| e.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn statements_are_described_by_their_tables() {
        assert_eq!(
            describe("SELECT change_seq, vault_size FROM users WHERE id = $1 FOR UPDATE"),
            "SELECT users FOR UPDATE"
        );
        assert_eq!(
            describe(
                "SELECT EXISTS ( SELECT 1 FROM users u WHERE u.id = $1 AND (EXISTS (SELECT 1 FROM devices d)))"
            ),
            "SELECT users, devices"
        );
        assert_eq!(
            describe(
                "WITH input AS ( SELECT * FROM UNNEST($3::TEXT[]) AS t(path) ), written AS ( \
                 INSERT INTO file_state AS f (user_id) SELECT $1 FROM input ON CONFLICT (user_id, path) \
                 DO UPDATE SET path_key = EXCLUDED.path_key RETURNING path ), history AS ( \
                 INSERT INTO file_versions (user_id) SELECT $1 FROM written ) SELECT path FROM written"
            ),
            "WITH: INSERT file_state + INSERT file_versions"
        );
        assert_eq!(
            describe("UPDATE users SET change_seq = $2 WHERE id = $1"),
            "UPDATE users"
        );
        assert_eq!(describe("COMMIT"), "COMMIT (+ its BEGIN)");
    }
}
