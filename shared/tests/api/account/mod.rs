//! Account and devices: the account summary, logout, removing a device and deleting the
//! account (rows and S3 objects), against real Postgres, s3s-fs and moto.

mod delete_account;
mod deletion_race;
mod logout;
mod purge;
mod remove_device;
mod samples;
mod summary;

use crate::support::{TestApp, TestDevice};

/// Syncs a new note, asserting it is committed as version 1.
async fn sync_note(app: &TestApp, dev: &TestDevice, path: &str, bytes: &[u8]) {
    let confirmed = app.sync_file(dev, path, 0, bytes).await;
    assert_eq!(confirmed.body["confirmed"][0]["version"], 1);
}
