//! The crate's bodies and `openapi.yaml`, the published contract, agree both ways: a sample
//! of every body (every optional field filled) validates against its schema, and every
//! property a schema names is one the type serializes. Requests the spec describes as
//! numbers are sent as numbers; answers carry the parsed types.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{TimeZone, Utc};
use jsonschema::{Draft, Registry, Validator};
use serde_json::{Number, Value, json};
use steel_protocol::domain::{Platform, Provider, PushEnvironment};
use steel_protocol::wire::*;
use steel_protocol::{ContentHash, DeviceId, ErrorCode, UserId, VaultPath, Version};

const BASE: &str = "https://steel-notes.invalid/openapi.yaml";

fn spec() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml"))
        .expect("openapi.yaml");
    serde_saphyr::from_str(&text).expect("YAML")
}

fn validator(doc: &Value, name: &str) -> Validator {
    let registry = Registry::new()
        .draft(Draft::Draft202012)
        .add(BASE, Draft::Draft202012.create_resource(doc.clone()))
        .and_then(|b| b.prepare())
        .expect("registry");
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .with_registry(&registry)
        .should_validate_formats(true)
        .build(&json!({ "$ref": format!("{BASE}#/components/schemas/{name}") }))
        .expect("schema")
}

/// Every property a schema names, through `$ref` and `allOf`.
fn properties(doc: &Value, schema: &Value, out: &mut BTreeSet<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let target = doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{r}"));
        return properties(doc, target, out);
    }
    if let Some(map) = schema.get("properties").and_then(Value::as_object) {
        out.extend(map.keys().cloned());
    }
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        properties(doc, part, out);
    }
}

fn path(p: &str) -> VaultPath {
    VaultPath::parse(p).expect("path")
}

fn hash(seed: &str) -> ContentHash {
    ContentHash::of(seed.as_bytes())
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 9, 30, 0)
        .single()
        .expect("time")
}

fn device_id() -> DeviceId {
    "5f0c1f7e-8a55-4a39-9d8b-0b1c3d2e4f60"
        .parse()
        .expect("uuid")
}

fn device_record() -> DeviceRecord {
    DeviceRecord {
        device_id: device_id(),
        device_name: "Ada's iPhone".into(),
        platform: Platform::Ios,
        push_environment: PushEnvironment::Production,
        has_push_token: true,
        created_at: at(),
        last_seen_at: at(),
    }
}

fn conflict() -> Conflict {
    Conflict {
        path: path("Notes/Café.md"),
        base_version: 2,
        server_version: 3,
        content_hash: Some(hash("server")),
        size_bytes: Some(12),
        is_deleted: false,
        updated_at: Some(at()),
        updated_by: Some(device_id()),
        download_url: Some("https://bucket.invalid/get".into()),
    }
}

fn rejected() -> Rejected {
    Rejected::new(
        "bad//path",
        ErrorCode::InvalidPath,
        "path must not contain an empty segment",
    )
}

fn versioned() -> Versioned {
    Versioned {
        path: path("a.md"),
        version: 4,
        content_hash: hash("a"),
    }
}

fn tombstone() -> Tombstone {
    Tombstone {
        path: path("gone.md"),
        version: 5,
        deleted_at: Some(at()),
    }
}

fn device_ref() -> DeviceRef {
    DeviceRef {
        device_id: device_id(),
        device_name: "Mac".into(),
        removed: false,
    }
}

/// (schema name, a sample of the type that schema describes).
#[path = "openapi_parts/migration.rs"]
mod migration;
#[path = "openapi_parts/plain.rs"]
mod plain;
#[path = "openapi_parts/sealed.rs"]
mod sealed;

fn samples() -> Vec<(&'static str, Value)> {
    let mut all = plain::samples();
    all.extend(sealed::samples());
    all.extend(migration::samples());
    all
}

#[test]
fn every_sample_is_valid_against_its_schema() {
    let doc = spec();
    let mut failures = Vec::new();
    for (name, sample) in samples() {
        let validator = validator(&doc, name);
        for error in validator.iter_errors(&sample) {
            failures.push(format!("{name}: {error} at {}", error.instance_path()));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_schema_property_is_a_field_of_the_type() {
    let doc = spec();
    let mut failures = Vec::new();
    let mut names: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (name, sample) in samples() {
        let seen = names.entry(name).or_default();
        if let Some(map) = sample.as_object() {
            seen.extend(map.keys().cloned());
        }
    }
    for (name, seen) in names {
        let schema = doc
            .pointer(&format!("/components/schemas/{name}"))
            .unwrap_or_else(|| panic!("no schema {name}"));
        let mut wanted = BTreeSet::new();
        properties(&doc, schema, &mut wanted);
        for missing in wanted.difference(&seen) {
            failures.push(format!(
                "{name}.{missing} is in openapi.yaml but not in the type"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `keyring` is required but nullable: a PUT that forgets it must not drop the keyring.
#[test]
fn a_put_of_keys_names_its_keyring() {
    let missing: Result<PutKeysRequest, _> = serde_json::from_value(json!({"slots": []}));
    assert!(missing.is_err());
    let null: PutKeysRequest =
        serde_json::from_value(json!({"slots": [], "keyring": null})).expect("null keyring");
    assert_eq!(null.keyring, None);
    assert!(!validator(&spec(), "PutKeysRequest").is_valid(&json!({"slots": []})));
}

#[test]
fn the_check_would_see_a_wrong_body() {
    let doc = spec();
    let mut bad = samples()
        .into_iter()
        .find(|(n, _)| *n == "Conflict")
        .expect("sample")
        .1;
    bad["server_version"] = json!("3");
    assert!(!validator(&doc, "Conflict").is_valid(&bad));
}
