//! The sync endpoints: the change feed, push and confirm, pull, packs, delete, each sending the
//! protocol's request body and reading its answer.

use reqwest::Method;
use steel_protocol::wire::{
    BulkAnswer, BulkBlob, BulkConfirmRequest, BulkRequest, ConfirmAnswer, DeleteAnswer,
    DeleteEntry, DeleteRequest, Download, FileEntry, FilesRequest, PacksAnswer, PacksRequest,
    Presign, PullAnswer, PullRequest, PushAnswer, StateAnswer, VersionRef,
};

use std::collections::HashMap;

use super::Api;
use crate::error::{Result, SyncError};
use crate::faults::Op;

/// `POST /vault/push`'s route: `presign=false` only when asked (the default answers alike).
pub(super) fn push_route(presign: Presign) -> String {
    match presign {
        Presign::Each => "/vault/push".to_owned(),
        Presign::Deferred => format!("/vault/push?{}={}", Presign::PARAM, presign.as_str()),
    }
}

impl Api {
    /// `GET /vault/state` from a cursor (`None`: the whole vault).
    pub async fn state(&self, cursor: Option<&str>, limit: u32) -> Result<StateAnswer> {
        let query = match cursor {
            Some(c) => format!("/vault/state?cursor={c}&limit={limit}"),
            None => format!("/vault/state?limit={limit}"),
        };
        if let Some(c) = &self.crypt {
            return self.sealed_state(c, &query).await;
        }
        let answer: serde_json::Value = self
            .call(Op::State, Method::GET, &query, None::<&()>)
            .await?;
        if answer.get("encrypted") == Some(&serde_json::Value::Bool(true)) {
            return Err(SyncError::Locked);
        }
        serde_json::from_value(answer).map_err(|e| SyncError::Other(format!("state: {e}")))
    }

    /// Pushes notes whose bytes are in `bytes_of` (encrypted first on an encrypted vault).
    pub async fn push_notes(
        &self,
        files: &[FileEntry],
        bytes_of: &HashMap<String, Vec<u8>>,
        presign: Presign,
    ) -> Result<PushAnswer> {
        match &self.crypt {
            Some(c) => self.sealed_push(c, files, bytes_of, presign).await,
            None => self.push_with(files, presign).await,
        }
    }

    /// A plaintext push (the engine pushes through [`Api::push_notes`]).
    pub async fn push(&self, files: &[FileEntry]) -> Result<PushAnswer> {
        self.push_with(files, Presign::Each).await
    }

    async fn push_with(&self, files: &[FileEntry], presign: Presign) -> Result<PushAnswer> {
        let body = FilesRequest {
            files: files.to_vec(),
        };
        let route = push_route(presign);
        self.call(Op::Push, Method::POST, &route, Some(&body)).await
    }

    pub async fn confirm(&self, files: &[FileEntry]) -> Result<ConfirmAnswer> {
        if let Some(c) = &self.crypt {
            return self.sealed_confirm(c, files).await;
        }
        let body = FilesRequest {
            files: files.to_vec(),
        };
        self.call(
            Op::Confirm,
            Method::POST,
            "/vault/push/confirm",
            Some(&body),
        )
        .await
    }

    /// `POST /vault/bulk`: a presigned PUT for an incoming pack of `size` bytes with this
    /// SHA-256 (hex).
    pub async fn bulk_start(&self, content_hash: &str, size: usize) -> Result<BulkAnswer> {
        let body = BulkRequest {
            content_hash: content_hash.to_owned(),
            size_bytes: i64::try_from(size)
                .map_err(|_| SyncError::Other("pack too large".into()))?,
        };
        self.call(Op::Bulk, Method::POST, "/vault/bulk", Some(&body))
            .await
    }

    /// PUTs an incoming pack to the URL `POST /vault/bulk` answered.
    pub async fn bulk_upload(&self, started: &BulkAnswer, pack: Vec<u8>) -> Result<()> {
        if self.faults.on_request(Op::Upload) == crate::faults::Fault::Pretend {
            return Ok(());
        }
        self.put(&started.upload_url, started.headers.iter(), pack)
            .await
    }

    /// `POST /vault/bulk/confirm`: the uploaded pack, its index, and the files to commit
    /// (with their sealed fields on an encrypted vault).
    pub async fn bulk_confirm(
        &self,
        pack_id: &str,
        blobs: &[BulkBlob],
        files: &[FileEntry],
    ) -> Result<ConfirmAnswer> {
        if let Some(c) = &self.crypt {
            return self.sealed_bulk_confirm(c, pack_id, blobs, files).await;
        }
        let body = BulkConfirmRequest {
            pack_id: pack_id.to_owned(),
            blobs: blobs.to_vec(),
            files: files.to_vec(),
        };
        self.call(
            Op::BulkConfirm,
            Method::POST,
            "/vault/bulk/confirm",
            Some(&body),
        )
        .await
    }

    /// Download URLs of the current versions.
    pub async fn pull_current(&self, paths: &[String]) -> Result<PullAnswer> {
        if let Some(c) = &self.crypt {
            return self.sealed_pull_current(c, paths).await;
        }
        let body = PullRequest {
            paths: Some(paths.to_vec()),
            files: None,
        };
        self.call(Op::Pull, Method::POST, "/vault/pull", Some(&body))
            .await
    }

    /// Pack objects holding the blobs of `hashes` (hex SHA-256), with their indexes.
    pub async fn packs(&self, hashes: &[String]) -> Result<PacksAnswer> {
        let body = PacksRequest {
            hashes: hashes.to_vec(),
        };
        self.call(Op::Packs, Method::POST, "/vault/packs", Some(&body))
            .await
    }

    /// Download URLs of given past versions (the base of a three-way merge).
    pub async fn pull_versions(&self, files: &[(String, i64)]) -> Result<PullAnswer> {
        if let Some(c) = &self.crypt {
            return self.sealed_pull_versions(c, files).await;
        }
        let files: Vec<VersionRef> = files
            .iter()
            .map(|(path, v)| VersionRef {
                path: path.clone(),
                version: serde_json::Number::from(*v),
            })
            .collect();
        let body = PullRequest {
            paths: None,
            files: Some(files),
        };
        self.call(Op::Pull, Method::POST, "/vault/pull", Some(&body))
            .await
    }

    /// `confirm_mass_delete`: the person confirmed a delete the server's guard would hold.
    pub async fn delete(
        &self,
        files: &[DeleteEntry],
        confirm_mass_delete: bool,
    ) -> Result<DeleteAnswer> {
        if let Some(c) = &self.crypt {
            return self.sealed_delete(c, files, confirm_mass_delete).await;
        }
        let body = DeleteRequest {
            files: files.to_vec(),
            confirm_mass_delete,
        };
        self.call(Op::Delete, Method::POST, "/vault/delete", Some(&body))
            .await
    }

    /// The bytes of a pulled version, checked: its plaintext and the SHA-256 of it. A
    /// plaintext note's bytes must hash to the answered hash; an encrypted note's are
    /// checked and decrypted (see `crate::crypt`).
    pub async fn fetch_checked(&self, file: &Download) -> Result<(Vec<u8>, String)> {
        if let Some(c) = &self.crypt {
            return self.sealed_fetch(c, file).await;
        }
        let bytes = self.download(&file.download_url).await?;
        let expected = file.content_hash.to_hex();
        if crate::scan::hash_bytes(&bytes) != expected {
            return Err(SyncError::Integrity {
                path: file.path.to_string(),
                expected,
            });
        }
        Ok((bytes, expected))
    }
}
