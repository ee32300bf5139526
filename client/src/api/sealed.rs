//! The sync endpoints of an end-to-end encrypted account: the plaintext calls of
//! [`super::vault`] translated through the device's [`Crypt`] (module `crate::crypt`), so the
//! engine sends and reads the same plaintext shapes either way. Paths go out as path keys,
//! bytes as ciphertext; every name, manifest and blob that comes back is opened and checked
//! before the engine sees it. Push and confirm are in `super::sealed_write`, the state
//! listing in `super::sealed_state`.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::Number;
use steel_protocol::wire::{
    Conflict, DeleteAnswer, DeleteEntry, Download, Key32, PullAnswer, Rejected, SealedConflict,
    SealedDeleteAnswer, SealedDeleteEntry, SealedDeleteRequest, SealedPullAnswer,
    SealedPullRequest, SealedRejected, SealedTombstone, SealedVersionRef, SealedVersioned,
    Tombstone, Versioned,
};
use steel_protocol::{ErrorCode, VaultPath};

use super::Api;
use crate::crypt::{Crypt, Expected};
use crate::error::{Result, SyncError};
use crate::faults::Op;

/// The plaintext path of each path key a request named.
pub(super) type Names = HashMap<Key32, String>;

pub(super) fn names_of<'a>(
    c: &Crypt,
    paths: impl IntoIterator<Item = &'a String>,
) -> (Names, Vec<Rejected>) {
    let mut names = Names::new();
    let mut rejected = Vec::new();
    for p in paths {
        match VaultPath::parse(p) {
            Ok(path) => {
                names.insert(Key32(c.path_key(&path).0), p.clone());
            }
            Err(e) => rejected.push(Rejected::new(p.clone(), ErrorCode::InvalidPath, e.message)),
        }
    }
    (names, rejected)
}

fn key_of(names: &Names, path: &str) -> Option<Key32> {
    names
        .iter()
        .find(|(_, p)| p.as_str() == path)
        .map(|(k, _)| *k)
}

/// A name the server answered for a path key this device sent.
pub(super) fn named(names: &Names, key: &Key32) -> Result<VaultPath> {
    let raw = names.get(key).ok_or_else(|| {
        SyncError::Other(format!(
            "the server answered a note this device did not name ({key})"
        ))
    })?;
    VaultPath::parse(raw).map_err(|e| SyncError::Other(e.message))
}

pub(super) fn rejected(names: &Names, r: Vec<SealedRejected>) -> Vec<Rejected> {
    r.into_iter()
        .map(|r| Rejected {
            path: (Key32::try_from(r.path_key.clone()).ok())
                .and_then(|k| names.get(&k).cloned())
                .unwrap_or(r.path_key),
            code: r.code,
            message: r.message,
        })
        .collect()
}

impl Api {
    /// Syncs an encrypted account through its unlocked key (see `crate::crypt`).
    pub fn with_crypt(mut self, crypt: std::sync::Arc<Crypt>) -> Self {
        self.crypt = Some(crypt);
        self
    }

    pub fn is_encrypted(&self) -> bool {
        self.crypt.is_some()
    }

    /// The server's side of a conflict, opened (a live note under a known path key may be
    /// its case twin: the opened name is the server's). A tombstone is named as this device
    /// named the key: whatever letter case the deleted note had, the name pushed revives it
    /// (`Idea.md` renamed to `idea.md` is a delete, then a push the tombstone's version
    /// answers as a conflict, as a plaintext note deleted elsewhere would be).
    fn open_conflict(c: &Crypt, names: &Names, k: SealedConflict) -> Result<Conflict> {
        let (path, content_hash) = match &k.sealed {
            Some(_) => {
                let o = c.open(&k.path_key, k.server_version, k.sealed.as_ref())?;
                match (k.is_deleted, names.contains_key(&k.path_key)) {
                    (true, true) => (named(names, &k.path_key)?, None),
                    (true, false) => (o.path, None),
                    (false, _) => (o.path, Some(c.engine_hash(&o.manifest.blob_id))),
                }
            }
            None => (named(names, &k.path_key)?, None),
        };
        Ok(Conflict {
            path,
            base_version: k.base_version,
            server_version: k.server_version,
            content_hash,
            size_bytes: k.size_bytes,
            is_deleted: k.is_deleted,
            updated_at: k.updated_at,
            updated_by: k.updated_by,
            download_url: None,
        })
    }

    pub(super) fn open_conflicts(
        c: &Crypt,
        names: &Names,
        ks: Vec<SealedConflict>,
    ) -> Result<Vec<Conflict>> {
        ks.into_iter()
            .map(|k| Self::open_conflict(c, names, k))
            .collect()
    }

    fn open_tombstone(c: &Crypt, names: &Names, t: SealedTombstone) -> Result<Tombstone> {
        let path = match names.get(&t.path_key) {
            Some(_) => named(names, &t.path_key)?,
            None => c.open(&t.path_key, t.version, t.sealed.as_ref())?.path,
        };
        Ok(Tombstone {
            path,
            version: t.version,
            deleted_at: t.deleted_at,
        })
    }

    /// Pushed notes: agreed, with the plaintext hash the engine records.
    pub(super) fn open_versioned(
        c: &Crypt,
        names: &Names,
        vs: Vec<SealedVersioned>,
    ) -> Result<Vec<Versioned>> {
        let agreed = vs
            .into_iter()
            .map(|v| {
                let path = named(names, &v.path_key)?;
                c.learn_name(&path, true);
                let hash = c.done(path.as_str()).ok_or_else(|| {
                    SyncError::Other(format!("{path}: agreed without being pushed"))
                })?;
                Ok(Versioned {
                    path,
                    version: v.version,
                    content_hash: steel_protocol::ContentHash::parse(&hash)
                        .map_err(|e| SyncError::Other(e.message))?,
                })
            })
            .collect::<Result<_>>()?;
        // Written (one transaction) before the engine records these versions.
        c.flush()?;
        Ok(agreed)
    }

    pub(super) async fn sealed_pull(
        &self,
        c: &Crypt,
        names: Names,
        body: SealedPullRequest,
    ) -> Result<PullAnswer> {
        let a: SealedPullAnswer = self
            .call(Op::Pull, Method::POST, "/vault/pull", Some(&body))
            .await?;
        let mut files = Vec::new();
        for d in a.files {
            if !names.contains_key(&d.path_key) {
                return Err(SyncError::Other(format!(
                    "the server answered a note this device did not ask for ({})",
                    d.path_key
                )));
            }
            let opened = c.open(&d.path_key, d.version, d.sealed.as_ref())?;
            let content_hash = c.engine_hash(&opened.manifest.blob_id);
            files.push(Download {
                path: opened.path.clone(),
                version: d.version,
                content_hash,
                size_bytes: d.size_bytes,
                download_url: d.download_url.clone(),
                expires_at: d.expires_at,
            });
            let expected = Expected {
                opened,
                content_hash: d.content_hash,
            };
            c.expect_download(&d.download_url, expected);
        }
        let deleted = (a.deleted.into_iter())
            .map(|t| Self::open_tombstone(c, &names, t))
            .collect::<Result<_>>()?;
        let not_found = (a.not_found.iter())
            .map(|k| named(&names, k))
            .collect::<Result<_>>()?;
        Ok(PullAnswer {
            files,
            deleted,
            not_found,
            rejected: rejected(&names, a.rejected),
        })
    }

    pub(super) async fn sealed_pull_current(
        &self,
        c: &Crypt,
        paths: &[String],
    ) -> Result<PullAnswer> {
        let (names, _) = names_of(c, paths);
        // In the order asked (not the map's, which differs from run to run).
        let mut seen = std::collections::HashSet::new();
        let keys = (paths.iter())
            .filter_map(|p| VaultPath::parse(p).ok())
            .map(|p| Key32(c.path_key(&p).0))
            .filter(|k| names.contains_key(k) && seen.insert(*k));
        let body = SealedPullRequest {
            path_keys: Some(keys.map(|k| k.to_hex()).collect()),
            files: None,
        };
        self.sealed_pull(c, names, body).await
    }

    pub(super) async fn sealed_pull_versions(
        &self,
        c: &Crypt,
        files: &[(String, i64)],
    ) -> Result<PullAnswer> {
        let (names, _) = names_of(c, files.iter().map(|(p, _)| p));
        let refs = (files.iter())
            .filter_map(|(p, v)| {
                Some(SealedVersionRef {
                    path_key: key_of(&names, p)?.to_hex(),
                    version: Number::from(*v),
                })
            })
            .collect();
        let body = SealedPullRequest {
            path_keys: None,
            files: Some(refs),
        };
        self.sealed_pull(c, names, body).await
    }

    pub(super) async fn sealed_delete(
        &self,
        c: &Crypt,
        files: &[DeleteEntry],
        confirm_mass_delete: bool,
    ) -> Result<DeleteAnswer> {
        let (names, refused) = names_of(c, files.iter().map(|f| &f.path));
        let body = SealedDeleteRequest {
            files: (files.iter())
                .filter_map(|f| {
                    Some(SealedDeleteEntry {
                        path_key: key_of(&names, &f.path)?.to_hex(),
                        base_version: f.base_version.clone(),
                    })
                })
                .collect(),
            confirm_mass_delete,
        };
        let a: SealedDeleteAnswer = self
            .call(Op::Delete, Method::POST, "/vault/delete", Some(&body))
            .await?;
        let mut all_refused = refused;
        all_refused.extend(rejected(&names, a.rejected));
        for t in &a.deleted {
            if let Some(p) = names
                .get(&t.path_key)
                .and_then(|p| VaultPath::parse(p).ok())
            {
                c.learn_name(&p, false);
            }
        }
        Ok(DeleteAnswer {
            deleted: (a.deleted.into_iter())
                .map(|t| Self::open_tombstone(c, &names, t))
                .collect::<Result<_>>()?,
            conflicts: Self::open_conflicts(c, &names, a.conflicts)?,
            not_found: (a.not_found.iter())
                .map(|k| named(&names, k))
                .collect::<Result<_>>()?,
            rejected: all_refused,
        })
    }

    pub(super) fn clock_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

pub(super) fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
