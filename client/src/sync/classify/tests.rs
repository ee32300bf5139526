//! The table of [`classify`]: every combination of the local side (absent / the synced bytes
//! / edited), the base (none / known) and the server's side (absent from a full listing / not
//! in this delta / the base version / a newer version / a tombstone / a version this device
//! made), then the cases that turn on more than those three (same bytes on both sides, a
//! refused file, a base found among the server's versions).

use super::*;
use crate::store::{Row, RowChange, SyncStatus, Version};

const P: &str = "thoughts/n.md";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum L {
    Absent,
    /// The bytes of the base.
    Same,
    Edited,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum B {
    None,
    Known,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum R {
    /// A full listing does not name the path.
    Absent,
    NotInDelta,
    /// The base version, listed again.
    Same,
    Newer,
    /// A newer version holding the base's bytes (a restore of them, say).
    Restored,
    Tombstone,
    ThisDevice,
}

const LOCALS: [L; 3] = [L::Absent, L::Same, L::Edited];
const BASES: [B; 2] = [B::None, B::Known];
const REMOTES: [R; 7] = [
    R::Absent,
    R::NotInDelta,
    R::Same,
    R::Newer,
    R::Restored,
    R::Tombstone,
    R::ThisDevice,
];

fn synced_row() -> Row {
    Row {
        content_hash: Some("base".into()),
        server_version: 2,
        sync_status: SyncStatus::Synced,
    }
}

fn remote(r: R) -> Remote {
    let live = |number, hash: &str, origin| Remote::Live {
        version: Version::new(number, hash),
        origin,
    };
    match r {
        R::Absent => Remote::Absent,
        R::NotInDelta => Remote::NotInDelta,
        R::Same => live(2, "base", Origin::Elsewhere),
        R::Newer => live(3, "theirs", Origin::Elsewhere),
        R::Restored => live(3, "base", Origin::Elsewhere),
        R::Tombstone => Remote::Tombstone {
            version: 3,
            origin: Origin::Elsewhere,
        },
        R::ThisDevice => live(3, "made", Origin::ThisDevice),
    }
}

fn decide(local: Option<&str>, base: Option<Version>, row: Option<&Row>, r: &Remote) -> Decision {
    classify(&PathFacts {
        path: P,
        local,
        base,
        row,
        remote: r,
    })
}

fn decide_kinds(l: L, b: B, r: R) -> Decision {
    let local = match l {
        L::Absent => None,
        L::Same => Some("base"),
        L::Edited => Some("mine"),
    };
    let row = synced_row();
    let (base, row) = match b {
        B::None => (None, None),
        B::Known => (row.base(), Some(&row)),
    };
    decide(local, base, row, &remote(r))
}

// The expected decisions.

fn nothing() -> Decision {
    Decision::default()
}

fn forget() -> Decision {
    Decision {
        record: Some(RowChange::Forget { path: P.into() }),
        work: None,
    }
}

fn agreed(number: i64, hash: &str) -> Decision {
    Decision {
        record: Some(RowChange::Agreed {
            path: P.into(),
            version: Version::new(number, hash),
        }),
        work: None,
    }
}

fn work(w: Work) -> Decision {
    Decision {
        record: None,
        work: Some(w),
    }
}

fn push(base_version: i64, hash: &str) -> Decision {
    work(Work::Push(Push {
        path: P.into(),
        base_version,
        hash: hash.into(),
    }))
}

fn delete(base_version: i64) -> Decision {
    work(Work::Delete(Delete {
        path: P.into(),
        base_version,
    }))
}

fn pull(expect: Option<&str>) -> Decision {
    work(Work::Pull(Pull {
        path: P.into(),
        expect: expect.map(str::to_owned),
    }))
}

fn merge(base: Option<Version>, local_hash: &str) -> Decision {
    work(Work::Merge(Merge {
        path: P.into(),
        base,
        local_hash: local_hash.into(),
    }))
}

fn remove(expect: &str) -> Decision {
    work(Work::Remove(Removal {
        path: P.into(),
        expect: expect.into(),
    }))
}

impl Decision {
    /// A record, then work: a version this device made, adopted as the base.
    fn then(self, next: Decision) -> Decision {
        Decision {
            work: next.work,
            ..self
        }
    }
}

/// (local, base, server, expected, why).
#[rustfmt::skip]
fn table() -> Vec<(L, B, R, Decision, &'static str)> {
    use {B as b, L as l, R as r};
    vec![
        // Deleted here.
        (l::Absent, b::Known, r::Absent, forget(), "gone on both sides"),
        (l::Absent, b::Known, r::NotInDelta, delete(2), "a local delete goes up"),
        (l::Absent, b::Known, r::Same, delete(2), "a local delete goes up"),
        (l::Absent, b::Known, r::Newer, pull(None), "an edit wins over a delete"),
        (l::Absent, b::Known, r::Restored, delete(3), "changed there to the very bytes deleted here: nothing unseen is lost, the delete goes on top"),
        (l::Absent, b::Known, r::Tombstone, forget(), "deleted on both sides"),
        (l::Absent, b::Known, r::ThisDevice, agreed(3, "made").then(delete(3)), "own version adopted, then deleted"),
        // The synced bytes.
        (l::Same, b::Known, r::Absent, remove("base"), "tombstone compacted: the delete is applied here, not resurrected"),
        (l::Same, b::Known, r::NotInDelta, nothing(), "nothing changed"),
        (l::Same, b::Known, r::Same, nothing(), "nothing changed"),
        (l::Same, b::Known, r::Newer, pull(Some("base")), "a remote edit comes down"),
        (l::Same, b::Known, r::Restored, agreed(3, "base"), "the same bytes at a newer version: agreed"),
        (l::Same, b::Known, r::Tombstone, remove("base"), "a remote delete is applied here"),
        (l::Same, b::Known, r::ThisDevice, agreed(3, "made").then(push(3, "base")), "own version adopted; the local bytes go on top"),
        // Edited here.
        (l::Edited, b::Known, r::Absent, push(0, "mine"), "tombstone compacted: the edit is pushed as a new note"),
        (l::Edited, b::Known, r::NotInDelta, push(2, "mine"), "a local edit goes up"),
        (l::Edited, b::Known, r::Same, push(2, "mine"), "a local edit goes up"),
        (l::Edited, b::Known, r::Newer, merge(Some(Version::new(2, "base")), "mine"), "both edited: merged against the base"),
        (l::Edited, b::Known, r::Restored, merge(Some(Version::new(2, "base")), "mine"), "the edit merged onto the server's newer version"),
        (l::Edited, b::Known, r::Tombstone, push(3, "mine"), "an edit wins over a delete, reviving the note"),
        (l::Edited, b::Known, r::ThisDevice, agreed(3, "made").then(push(3, "mine")), "own version adopted; the edit goes on top"),
        // Never synced here, no file.
        (l::Absent, b::None, r::Absent, nothing(), "nothing anywhere"),
        (l::Absent, b::None, r::NotInDelta, nothing(), "nothing anywhere"),
        (l::Absent, b::None, r::Newer, pull(None), "a new remote note comes down"),
        (l::Absent, b::None, r::Restored, pull(None), "a new remote note comes down"),
        (l::Absent, b::None, r::Tombstone, nothing(), "a tombstone never seen here: no row to forget"),
        (l::Absent, b::None, r::ThisDevice, agreed(3, "made").then(delete(3)), "own new note adopted, then deleted as it was here"),
        // A new local file.
        (l::Edited, b::None, r::Absent, push(0, "mine"), "a new note goes up"),
        (l::Edited, b::None, r::NotInDelta, push(0, "mine"), "a new note goes up"),
        (l::Edited, b::None, r::Newer, merge(None, "mine"), "created on both sides: merged without a base (kept both)"),
        (l::Edited, b::None, r::Restored, merge(None, "mine"), "created on both sides: merged without a base (kept both)"),
        (l::Edited, b::None, r::Tombstone, push(3, "mine"), "created over a tombstone"),
        (l::Edited, b::None, r::ThisDevice, agreed(3, "made").then(push(3, "mine")), "own new note adopted; the edit goes on top"),
    ]
}

/// The bytes of the base need a base; so does a server at the base version.
fn possible(l: L, b: B, r: R) -> bool {
    b == B::Known || (l != L::Same && r != R::Same)
}

#[test]
fn the_table_covers_every_combination() {
    let table = table();
    let mut missing = Vec::new();
    for l in LOCALS {
        for b in BASES {
            for r in REMOTES {
                let rows = table
                    .iter()
                    .filter(|(tl, tb, tr, ..)| (*tl, *tb, *tr) == (l, b, r))
                    .count();
                match (possible(l, b, r), rows) {
                    (true, 1) | (false, 0) => {}
                    _ => missing.push(format!("{l:?} {b:?} {r:?}: {rows} rows")),
                }
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
    assert_eq!(table.len(), 33);
}

#[test]
fn every_combination_decides_as_the_table_says() {
    let mut wrong = Vec::new();
    for (l, b, r, expect, why) in table() {
        let got = decide_kinds(l, b, r);
        if got != expect {
            wrong.push(format!(
                "local {l:?}, base {b:?}, server {r:?} ({why}):\n  expected {expect:?}\n  got      {got:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_same_bytes_on_both_sides_are_agreed_without_a_transfer() {
    let row = synced_row();
    let newer = |hash: &str| Remote::Live {
        version: Version::new(3, hash),
        origin: Origin::Elsewhere,
    };
    // The same edit made on both sides.
    assert_eq!(
        decide(Some("mine"), row.base(), Some(&row), &newer("mine")),
        agreed(3, "mine")
    );
    // The server went back to this device's bytes.
    assert_eq!(
        decide(Some("base"), row.base(), Some(&row), &newer("base")),
        agreed(3, "base")
    );
    // This device's own version, whose answer was lost, is the local file.
    let own = Remote::Live {
        version: Version::new(3, "made"),
        origin: Origin::ThisDevice,
    };
    assert_eq!(
        decide(Some("made"), row.base(), Some(&row), &own),
        agreed(3, "made")
    );
    assert_eq!(decide(Some("made"), None, None, &own), agreed(3, "made"));
}

#[test]
fn a_refused_file_is_not_sent_again_until_it_changes() {
    let refused = Row {
        content_hash: Some("mine".into()),
        server_version: 0,
        sync_status: SyncStatus::Rejected,
    };
    let row = Some(&refused);
    assert_eq!(refused.base(), None);
    let still = work(Work::StillRejected { path: P.into() });
    assert_eq!(decide(Some("mine"), None, row, &Remote::NotInDelta), still);
    assert_eq!(
        decide(Some("other"), None, row, &Remote::NotInDelta),
        push(0, "other")
    );
    // Deleted here: the row goes, whether or not the server ever had the path.
    assert_eq!(decide(None, None, row, &Remote::NotInDelta), forget());
    let tombstone = remote(R::Tombstone);
    assert_eq!(decide(None, None, row, &tombstone), forget());
}

#[test]
fn a_tombstone_this_device_made_is_a_tombstone() {
    let row = synced_row();
    let own_delete = Remote::Tombstone {
        version: 3,
        origin: Origin::ThisDevice,
    };
    assert_eq!(
        decide(Some("base"), row.base(), Some(&row), &own_delete),
        remove("base")
    );
    assert_eq!(decide(None, row.base(), Some(&row), &own_delete), forget());
}

#[test]
fn a_base_found_among_the_servers_versions_makes_the_local_file_unedited() {
    // `sync_state` says version 2, but the local bytes are version 3 (a pull whose
    // recording was lost): version 4 is a plain pull, not a merge.
    let row = synced_row();
    let newer = Remote::Live {
        version: Version::new(4, "theirs"),
        origin: Origin::Elsewhere,
    };
    assert_eq!(
        decide(Some("v3"), Some(Version::new(3, "v3")), Some(&row), &newer),
        pull(Some("v3"))
    );
    assert_eq!(
        decide(Some("v3"), row.base(), Some(&row), &newer),
        merge(Some(Version::new(2, "base")), "v3")
    );
}

#[test]
fn the_origin_is_this_device_only_for_its_own_id() {
    assert_eq!(Origin::of(Some("d1"), Some("d1")), Origin::ThisDevice);
    assert_eq!(Origin::of(Some("d2"), Some("d1")), Origin::Elsewhere);
    assert_eq!(Origin::of(None, None), Origin::Elsewhere);
    assert_eq!(Origin::of(None, Some("d1")), Origin::Elsewhere);
}
