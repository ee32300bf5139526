//! What a sync tells its caller: progress while it runs, and a report of what it did.

/// Progress of a sync, as it happens.
#[derive(Debug, Clone)]
pub enum Progress {
    /// The vault was scanned: `files` notes, of which `read` had to be read and hashed.
    Scanned {
        files: usize,
        read: usize,
    },
    Changes {
        remote: usize,
        actions: usize,
    },
    Uploaded {
        done: usize,
        total: usize,
    },
    Downloaded {
        done: usize,
        total: usize,
    },
}

/// A file the server refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub path: String,
    /// The server's error code (`case_conflict`, `quota_exceeded`, ...).
    pub code: String,
    pub message: String,
}

impl From<&crate::api::Rejected> for Rejection {
    fn from(r: &crate::api::Rejected) -> Self {
        Rejection {
            path: r.path.clone(),
            code: r.code.to_string(),
            message: r.message.clone(),
        }
    }
}

/// What a sync did.
#[derive(Debug, Default, Clone)]
pub struct SyncReport {
    pub pushed: Vec<String>,
    pub pulled: Vec<String>,
    /// Local deletes sent to the server.
    pub deleted_remote: Vec<String>,
    /// Server deletes applied here.
    pub deleted_local: Vec<String>,
    pub merged: Vec<String>,
    /// (path, copy): the server's version is at the path, this device's at the copy.
    pub conflict_copies: Vec<(String, String)>,
    pub rejected: Vec<Rejection>,
    /// Changed locally while the sync ran: left for the next sync.
    pub deferred: Vec<String>,
    /// Notes missing here whose deletion was held back as a mass delete (by this client's
    /// guard or the server's): still on the server and on other devices.
    pub held: Vec<String>,
    /// How many notes this vault had synced before (what `held` is a share of).
    pub known: usize,
    pub rounds: u32,
    /// Requests the server refused as over the account's request budget (429
    /// `rate_limited`) and that were sent again after waiting, and the time spent waiting.
    pub rate_limited: u64,
    pub rate_limited_wait: std::time::Duration,
}

impl SyncReport {
    /// What to tell the person when the server rate-limited this sync (`None`: it did not).
    pub fn rate_limited_message(&self) -> Option<String> {
        (self.rate_limited > 0).then(|| {
            format!(
                "rate limited: {} requests waited out ({:.0} s in all): this account is over \
                 its request budget (a sync is slower, nothing is lost)",
                self.rate_limited,
                self.rate_limited_wait.as_secs_f64()
            )
        })
    }

    pub fn conflicts(&self) -> usize {
        self.merged.len() + self.conflict_copies.len()
    }

    /// What to tell the person when deletes were held back (`None`: none were).
    pub fn held_message(&self) -> Option<String> {
        if self.held.is_empty() {
            return None;
        }
        Some(format!(
            "held back: {} of the {} notes synced before are missing from this folder, so \
             nothing was deleted on the server or on your other devices.\n\
             - to bring them back here from the server: steel-sync sync --restore-missing\n\
             - if you meant to delete them everywhere: steel-sync sync --allow-mass-delete",
            self.held.len(),
            self.known.max(self.held.len()),
        ))
    }

    pub fn summary(&self) -> String {
        format!(
            "pushed {}, pulled {}, deleted {} (here {}, on the server {}), conflicts {} (merged {}, kept both {}), rejected {}, held back {}",
            self.pushed.len(),
            self.pulled.len(),
            self.deleted_local.len() + self.deleted_remote.len(),
            self.deleted_local.len(),
            self.deleted_remote.len(),
            self.conflicts(),
            self.merged.len(),
            self.conflict_copies.len(),
            self.rejected.len(),
            self.held.len(),
        )
    }
}
