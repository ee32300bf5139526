//! The recovery endpoints of an end-to-end encrypted account, for `steel-sync history`,
//! `deleted`, `restore` and `rewind`: a plaintext path goes out as its path key, and every
//! version that comes back has its sealed fields opened and checked (`crate::crypt`) and is
//! handed on as the plaintext answer would be: with its `path`, without the sealed bytes.
//! A rewind of an encrypted vault is of the whole vault: the server knows no folders.

use reqwest::Method;
use serde_json::{Number, Value};
use steel_protocol::VaultPath;
use steel_protocol::wire::{Key32, Sealed, SealedRestoreEntry, SealedRestoreRequest};

use super::Api;
use crate::crypt::Crypt;
use crate::error::{Result, SyncError};
use crate::faults::Op;

/// The path key of a path the person typed.
pub(super) fn key_of(c: &Crypt, path: &str) -> Result<Key32> {
    let path = VaultPath::parse(path).map_err(|e| SyncError::Other(e.message))?;
    Ok(Key32(c.path_key(&path).0))
}

/// Opens the sealed fields of `v` (version `version` of the note under `key`): `v` gets
/// the plaintext `path` and loses `sealed`.
pub(super) fn open_value(c: &Crypt, key: &Key32, version: i64, v: &mut Value) -> Result<()> {
    let sealed: Option<Sealed> = serde_json::from_value(v["sealed"].take()).ok();
    let opened = c.open(key, version, sealed.as_ref())?;
    if let Some(map) = v.as_object_mut() {
        map.remove("sealed");
        map.remove("path_key");
        map.insert(
            "path".into(),
            Value::String(opened.path.as_str().to_owned()),
        );
    }
    Ok(())
}

/// `path_key` fields of refusals and conflicts of a one-note request, named by its path.
fn rename_keys(items: &mut Value, path: &str) {
    for item in items.as_array_mut().into_iter().flatten() {
        if let Some(map) = item.as_object_mut()
            && map.remove("path_key").is_some()
        {
            map.insert("path".into(), Value::String(path.to_owned()));
        }
    }
}

impl Api {
    pub(super) fn sealed_history(c: &Crypt, path: &str, versions: &mut [Value]) -> Result<()> {
        let key = key_of(c, path)?;
        for v in versions {
            let version = v["version"].as_i64().unwrap_or(0);
            open_value(c, &key, version, v)?;
        }
        Ok(())
    }

    pub(super) fn sealed_deleted(c: &Crypt, files: &mut [Value]) -> Result<()> {
        for f in files {
            let key: Key32 = serde_json::from_value(f["path_key"].clone())
                .map_err(|e| SyncError::Other(format!("deleted: {e}")))?;
            let version = f["version"].as_i64().unwrap_or(0);
            open_value(c, &key, version, f)?;
        }
        Ok(())
    }

    pub(super) async fn sealed_restore(
        &self,
        c: &Crypt,
        path: &str,
        version: i64,
        base_version: i64,
    ) -> Result<Value> {
        let key = key_of(c, path)?;
        let body = SealedRestoreRequest {
            files: vec![SealedRestoreEntry {
                path_key: key.to_hex(),
                version: Number::from(version),
                base_version: Number::from(base_version),
            }],
        };
        let mut answer: Value = self
            .call(Op::Restore, Method::POST, "/vault/restore", Some(&body))
            .await?;
        for r in answer["restored"].as_array_mut().into_iter().flatten() {
            let v = r["version"].as_i64().unwrap_or(0);
            open_value(c, &key, v, r)?;
        }
        for field in ["rejected", "conflicts"] {
            rename_keys(&mut answer[field], path);
        }
        if let Some(not_found) = answer["not_found"].as_array_mut() {
            for n in not_found.iter_mut() {
                *n = Value::String(path.to_owned());
            }
        }
        Ok(answer)
    }
}
