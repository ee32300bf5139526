//! The sync endpoints: the change feed, push and confirm, pull, packs, delete, each sending the
//! protocol's request body and reading its answer.

use reqwest::Method;
use steel_protocol::wire::{
    ConfirmAnswer, DeleteAnswer, DeleteEntry, DeleteRequest, FileEntry, FilesRequest, PacksAnswer,
    PacksRequest, PullAnswer, PullRequest, PushAnswer, StateAnswer, VersionRef,
};

use super::Api;
use crate::error::Result;
use crate::faults::Op;

impl Api {
    /// `GET /vault/state` from a cursor (`None`: the whole vault).
    pub async fn state(&self, cursor: Option<&str>, limit: u32) -> Result<StateAnswer> {
        let query = match cursor {
            Some(c) => format!("/vault/state?cursor={c}&limit={limit}"),
            None => format!("/vault/state?limit={limit}"),
        };
        self.call(Op::State, Method::GET, &query, None::<&()>).await
    }

    pub async fn push(&self, files: &[FileEntry]) -> Result<PushAnswer> {
        let body = FilesRequest {
            files: files.to_vec(),
        };
        self.call(Op::Push, Method::POST, "/vault/push", Some(&body))
            .await
    }

    pub async fn confirm(&self, files: &[FileEntry]) -> Result<ConfirmAnswer> {
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

    /// Download URLs of the current versions.
    pub async fn pull_current(&self, paths: &[String]) -> Result<PullAnswer> {
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
        let body = DeleteRequest {
            files: files.to_vec(),
            confirm_mass_delete,
        };
        self.call(Op::Delete, Method::POST, "/vault/delete", Some(&body))
            .await
    }
}
