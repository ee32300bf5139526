//! Getting notes back: a note's history, the deleted notes, restoring a past version,
//! rewinding the vault to a moment, and the guard that holds a mass delete.

mod deleted;
mod history;
mod mass_delete;
mod restore;
mod rewind;

use serde_json::{Value, json};

use crate::support::{TestApp, TestDevice};

/// `{"files": [{"path", "base_version"}]}` for a delete.
pub fn deletes(files: &[(&str, i64)]) -> Value {
    let files: Vec<Value> = files
        .iter()
        .map(|(p, v)| json!({"path": p, "base_version": v}))
        .collect();
    json!({ "files": files })
}

/// Deletes `path` at `base`, asserting it; the tombstone's version.
pub async fn delete_one(app: &TestApp, dev: &TestDevice, path: &str, base: i64) -> i64 {
    let answer = app.delete(dev, deletes(&[(path, base)])).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body["deleted"][0]["version"]
        .as_i64()
        .unwrap_or_else(|| panic!("not deleted: {:?}", answer.body))
}
