//! The rewinds both differential tests send (`model_diff.rs`, `model_diff_sealed.rs`): to a
//! moment taken between two earlier requests (or none yet, too old, in the future), of the
//! whole vault or a folder, with or without `remove_newer`, in pages of 1 to 3 notes
//! followed by their `resume`, now and then a page retried with the same `resume` (its
//! answer lost) or a `resume` from another rewind.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

/// The first page's body. `folder`: a prefix to rewind sometimes (`None` for an
/// encrypted account, which refuses one; it is sent now and then all the same).
pub(super) fn first(
    rng: &mut ChaCha8Rng,
    moments: &[DateTime<Utc>],
    folder: Option<&str>,
) -> Value {
    let now = Utc::now();
    let as_of = match rng.random_range(0..20) {
        0 => now + TimeDelta::hours(1),
        1 => now - TimeDelta::days(400),
        2 => now - TimeDelta::hours(1),
        _ if moments.is_empty() => now,
        _ => moments[rng.random_range(0..moments.len())],
    };
    let mut body = json!({
        "as_of": as_of.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "remove_newer": rng.random_range(0..3) == 0,
    });
    match rng.random_range(0..4) {
        0 => body["prefix"] = json!(folder.unwrap_or("notes")),
        1 if folder.is_none() => {}
        1 => body["prefix"] = json!("other/"),
        _ => {}
    }
    if rng.random_range(0..3) > 0 {
        body["limit"] = json!(rng.random_range(1..=3));
    }
    body
}

/// The next page after `answer` to `body`: with its `resume`, sometimes again the same page
/// (a retry), rarely a `resume` this rewind never answered; `None` when done.
pub(super) fn next(rng: &mut ChaCha8Rng, body: &Value, answer: &Value) -> Option<Value> {
    let mut next = body.clone();
    match rng.random_range(0..10) {
        0 if body.get("resume").is_some() => {}
        1 => next["resume"] = json!("r0.999999.1"),
        _ => next["resume"] = answer.get("resume").filter(|r| !r.is_null())?.clone(),
    }
    Some(next)
}

/// Notes what an answer covered, for the run's check that rewinds reached their cases.
pub(super) fn saw(seen: &mut BTreeSet<String>, body: &Value, answer: &Value) {
    for field in ["restored", "deleted", "unchanged", "kept_newer"] {
        if answer[field].as_u64().is_some_and(|n| n > 0) {
            seen.insert(format!("rewind {field}"));
        }
    }
    if answer["skipped"].as_array().is_some_and(|l| !l.is_empty()) {
        seen.insert("rewind skipped".to_owned());
    }
    if answer["has_more"] == json!(true) {
        seen.insert("rewind paged".to_owned());
    }
    if body.get("resume").is_some() && answer["error"].is_null() {
        seen.insert("rewind resumed".to_owned());
    }
    if body.get("prefix").is_some() && answer["error"].is_null() {
        seen.insert("rewind folder".to_owned());
    }
    if body["remove_newer"] == json!(true) && answer["deleted"].as_u64().is_some_and(|n| n > 0) {
        seen.insert("rewind remove_newer".to_owned());
    }
}
