//! The bodies of the vault endpoints as the client sends and reads them (the server's side
//! is `steel_core::handlers`; README "Vault sync" documents both).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
pub struct RemoteFile {
    pub path: String,
    pub version: i64,
    pub content_hash: String,
    pub size_bytes: i64,
    pub is_deleted: bool,
    #[serde(default)]
    pub updated_by: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct StatePage {
    pub files: Vec<RemoteFile>,
    pub cursor: String,
    pub has_more: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileEntry {
    pub path: String,
    pub base_version: i64,
    pub content_hash: String,
    pub size_bytes: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Upload {
    pub path: String,
    pub content_hash: String,
    pub upload_url: Option<String>,
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Versioned {
    pub path: String,
    pub version: i64,
    #[serde(default)]
    pub content_hash: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConflictInfo {
    pub path: String,
    #[serde(default)]
    pub updated_by: Option<String>,
    pub server_version: i64,
    pub content_hash: Option<String>,
    #[serde(default)]
    pub size_bytes: Option<i64>,
    pub is_deleted: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Rejected {
    pub path: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Deserialize)]
pub struct PushAnswer {
    pub uploads: Vec<Upload>,
    pub unchanged: Vec<Versioned>,
    pub conflicts: Vec<ConflictInfo>,
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Deserialize)]
pub struct Missing {
    pub path: String,
    pub code: String,
}

#[derive(Debug, Deserialize)]
pub struct ConfirmAnswer {
    pub confirmed: Vec<Versioned>,
    pub conflicts: Vec<ConflictInfo>,
    pub missing: Vec<Missing>,
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Download {
    pub path: String,
    pub version: i64,
    pub content_hash: String,
    pub download_url: String,
}

#[derive(Debug, Deserialize)]
pub struct PullAnswer {
    pub files: Vec<Download>,
    pub deleted: Vec<Versioned>,
    pub not_found: Vec<String>,
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeleteEntry {
    pub path: String,
    pub base_version: i64,
}

#[derive(Debug, Deserialize)]
pub struct DeleteAnswer {
    pub deleted: Vec<Versioned>,
    pub conflicts: Vec<ConflictInfo>,
    pub not_found: Vec<String>,
    pub rejected: Vec<Rejected>,
}
