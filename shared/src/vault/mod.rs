//! The vault's sync logic, shared by its endpoints: the rules that decide what a write does
//! ([`rules`]) and how notes come back ([`recovery`]), request bodies parsed per file
//! ([`request`]), the shapes of refusals and conflicts ([`answer`]), the allowance of
//! unconfirmed uploads ([`uploads`]), and announcing committed changes to the notifier.

pub mod answer;
pub mod recovery;
pub mod request;
pub mod rules;
pub mod uploads;

pub use answer::{Conflict, Rejected, describe_conflict};

use crate::auth::Caller;
use crate::domain::{Cursor, VaultPath};
use crate::messages::ChangeNotice;
use crate::queue::Queue;

/// Queues one change notice for the paths a request committed. A failure is logged, never
/// returned: the versions are committed, and devices also sync on launch and on a timer.
pub async fn announce(changes: &Queue, caller: &Caller, cursor: Cursor, paths: Vec<VaultPath>) {
    if paths.is_empty() {
        return;
    }
    let notice = ChangeNotice::new(caller.user_id, caller.device_id, cursor, paths);
    if let Err(err) = changes.send(&notice).await {
        tracing::error!(user_id = %caller.user_id, %cursor, error = %err, "change notice not queued");
    }
}
