//! The signed-in session of one vault: which API, which user and device, and the token pair,
//! kept in `<vault>/.steel/auth.json` (readable by its owner only).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::STATE_DIR;
use crate::error::{Result, SyncError};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub api_url: String,
    pub user_id: String,
    pub device_id: Option<String>,
    pub device_name: String,
    pub access_token: String,
    pub refresh_token: String,
    pub access_expires_at: DateTime<Utc>,
}

/// The token answer of `/auth/login` and `/auth/refresh`.
pub use steel_protocol::wire::TokenAnswer;

/// When an access token that lives `expires_in` seconds expires. Clamped to a year: the
/// server's number is not trusted to fit chrono's range.
fn expiry(expires_in: u64) -> DateTime<Utc> {
    let secs = i64::try_from(expires_in.min(365 * 24 * 3600)).unwrap_or(0);
    Utc::now() + chrono::Duration::seconds(secs)
}

impl Session {
    pub fn path(vault: &Path) -> PathBuf {
        vault.join(STATE_DIR).join("auth.json")
    }

    pub fn from_answer(api_url: &str, device_name: &str, answer: TokenAnswer) -> Self {
        Session {
            api_url: api_url.trim_end_matches('/').to_owned(),
            user_id: answer.user_id.to_string(),
            device_id: answer.device_id.map(|d| d.to_string()),
            device_name: device_name.to_owned(),
            access_token: answer.access_token,
            refresh_token: answer.refresh_token,
            access_expires_at: expiry(answer.expires_in),
        }
    }

    /// Takes a refreshed token pair.
    pub fn update(&mut self, answer: TokenAnswer) {
        self.access_token = answer.access_token;
        self.refresh_token = answer.refresh_token;
        self.access_expires_at = expiry(answer.expires_in);
    }

    /// True when the access token has expired or will within a minute.
    pub fn access_expiring(&self) -> bool {
        self.access_expires_at - chrono::Duration::seconds(60) <= Utc::now()
    }

    pub fn load(vault: &Path) -> Result<Self> {
        let path = Self::path(vault);
        let raw = match std::fs::read(&path) {
            Ok(raw) => raw,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SyncError::Auth(format!(
                    "no session in {}",
                    vault.join(STATE_DIR).display()
                )));
            }
            Err(e) => return Err(SyncError::io(&path)(e)),
        };
        serde_json::from_slice(&raw)
            .map_err(|e| SyncError::Auth(format!("{} is unreadable: {e}", path.display())))
    }

    /// Writes the session atomically, readable by its owner only.
    pub fn save(&self, vault: &Path) -> Result<()> {
        let path = Self::path(vault);
        let dir = vault.join(STATE_DIR);
        std::fs::create_dir_all(&dir).map_err(SyncError::io(&dir))?;
        let tmp = dir.join("auth.json.tmp");
        let body = serde_json::to_vec_pretty(self).map_err(|e| SyncError::Other(e.to_string()))?;
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&tmp).map_err(SyncError::io(&tmp))?;
            file.write_all(&body).map_err(SyncError::io(&tmp))?;
            file.sync_all().map_err(SyncError::io(&tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(SyncError::io(&path))
    }
}
