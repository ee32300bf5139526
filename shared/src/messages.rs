//! The messages on our SQS queues, in one place for the functions that send them and the
//! functions that consume them (the notifier never imports an HTTP handler).

use serde::{Deserialize, Serialize};

use crate::domain::{Cursor, DeviceId, UserId, VaultPath};

/// SQS allows 256 KiB a message; a notice stays well below.
pub const MAX_NOTICE_BYTES: usize = 128 * 1024;

/// "The user's vault changed": queued by every write that commits, read by the notifier,
/// which wakes the user's other devices.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChangeNotice {
    pub user_id: UserId,
    pub origin_device_id: Option<DeviceId>,
    pub cursor: Cursor,
    /// Left out when the list would make the message too big: devices then sync fully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<VaultPath>>,
}

impl ChangeNotice {
    /// A notice naming `paths`, or none at all when the list would pass
    /// [`MAX_NOTICE_BYTES`] (the notice then means "sync everything").
    pub fn new(
        user_id: UserId,
        origin_device_id: Option<DeviceId>,
        cursor: Cursor,
        paths: Vec<VaultPath>,
    ) -> Self {
        let mut notice = ChangeNotice {
            user_id,
            origin_device_id,
            cursor,
            paths: Some(paths),
        };
        let size = serde_json::to_vec(&notice).map_or(usize::MAX, |body| body.len());
        if size > MAX_NOTICE_BYTES {
            notice.paths = None;
        }
        notice
    }
}

/// "Delete what is left of this account in the bucket": queued by `DELETE /account`,
/// consumed by the same function until the purge is complete.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PurgeRequest {
    pub purge_user_id: UserId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_too_big_for_sqs_drops_its_paths() {
        let user = UserId::new_random();
        let few = vec![VaultPath::parse("a.md").expect("path")];
        let notice = ChangeNotice::new(user, None, Cursor::from_seq(3), few.clone());
        assert_eq!(notice.paths, Some(few));
        let long = VaultPath::parse(&format!("{}/x.md", "d".repeat(250))).expect("path");
        let many = vec![long; 1000];
        let notice = ChangeNotice::new(user, None, Cursor::from_seq(3), many);
        assert_eq!(notice.paths, None);
        let body = serde_json::to_string(&notice).expect("json");
        assert!(!body.contains("paths"), "{body}");
    }
}
