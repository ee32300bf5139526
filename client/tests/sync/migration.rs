//! Turning encryption on for a vault with notes through the library (README "Turning
//! encryption on for an existing vault"), with the answer of each migration request lost in
//! turn (the server did it, the device never heard): a rerun always finishes the migration,
//! and a second device that unlocks gets every note.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use steel_crypto::{KdfParams, KdfPolicy};
use steel_sync::vault_key::migrate::{Migrated, migrate};
use steel_sync::vault_key::{self, Secret, slots};
use steel_sync::{Api, Fault, Faults, Op};

use super::common::{Device, PASSPHRASE, unique_user};

/// Loses the answer of the `n`-th migration request.
struct LoseNth {
    n: usize,
    seen: AtomicUsize,
}

impl Faults for LoseNth {
    fn on_request(&self, op: Op) -> Fault {
        if op == Op::Migration && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.n {
            Fault::LoseResponse
        } else {
            Fault::None
        }
    }
}

#[tokio::test]
async fn a_migration_resumes_after_any_lost_answer_and_a_second_device_converges() {
    // start, status, stage, stage after the upload, status, switch; then none lost.
    for n in 1..=7 {
        let sub = unique_user(&format!("migrate-lost-{n}"));
        let mut a = Device::new(&sub, "laptop").await;
        a.write("thoughts/One.md", "one\n");
        a.write("thoughts/Two.md", "two\n");
        a.sync().await;
        a.write("thoughts/One.md", "one, edited\n");
        a.write("thoughts/Gone.md", "gone\n");
        a.sync().await;
        a.remove("thoughts/Gone.md");
        a.sync().await;

        let session = a.syncer.api().session().await;
        let faults = Arc::new(LoseNth {
            n,
            seen: AtomicUsize::new(0),
        });
        let faulty = Api::new(session.clone(), None).with_faults(faults);
        let params = KdfParams {
            p: 1,
            ..KdfPolicy::DEFAULT.floor
        };
        let new = slots::new_vault(PASSPHRASE, params, &mut vault_key::os_rng().unwrap()).unwrap();
        let started = faulty.start_migration("\"v0\"", &new.request).await;
        // The first request's answer is lost: the server started it all the same.
        assert_eq!(started.is_err(), n == 1, "{started:?}");
        let keys = vault_key::unlock(&faulty, &Secret::Passphrase(PASSPHRASE))
            .await
            .unwrap()
            .keys;
        let first = migrate(&faulty, &keys).await;
        // Every later request's lost answer stops the run; with none lost it finishes.
        assert_eq!(first.is_err(), (2..=6).contains(&n), "n = {n}: {first:?}");
        // A rerun (a fresh process: no faults) finishes whatever is left.
        let plain = Api::new(session.clone(), None);
        let second = migrate(&plain, &keys).await.unwrap();
        match (&first, &second) {
            (Ok(Migrated::Switched(done)), Migrated::AlreadyEncrypted) => {
                assert_eq!(done.notes, 2, "n = {n}")
            }
            (Err(_), Migrated::Switched(done)) => assert_eq!(done.notes, 2, "n = {n}"),
            (Err(_), Migrated::AlreadyEncrypted) => {}
            other => panic!("n = {n}: {other:?}"),
        }
        assert!(vault_key::read(&plain).await.unwrap().encrypted, "n = {n}");

        let mut b = Device::opened(&sub, "phone", None, Some(Secret::Passphrase(PASSPHRASE))).await;
        b.sync().await;
        assert_eq!(
            b.read("thoughts/One.md").as_deref(),
            Some("one, edited\n"),
            "n = {n}"
        );
        assert_eq!(
            b.read("thoughts/Two.md").as_deref(),
            Some("two\n"),
            "n = {n}"
        );
        assert_eq!(b.tree().len(), 2, "n = {n}: {:?}", b.tree().keys());
    }
}
