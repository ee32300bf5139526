//! Table tests of the sync rules: every combination of the server's row (none / live /
//! tombstone), the base (the server's version / one behind / unrelated), the content (the
//! server's / other), the device (the one that wrote the row / another), a case twin (none /
//! in the vault / earlier in the request) and the quota (room / full).

use super::*;

const A: DeviceId = DeviceId(uuid::Uuid::from_u128(0xa));
const B: DeviceId = DeviceId(uuid::Uuid::from_u128(0xb));

fn path(p: &str) -> VaultPath {
    VaultPath::parse(p).expect("path")
}

fn content(tag: &str, size: i64) -> Content {
    Content {
        hash: ContentHash::of(tag.as_bytes()),
        size,
    }
}

/// The server's row in these tests: `note.md` at version 3, 10 bytes of "x", written by A.
fn row(deleted: bool) -> FileState {
    FileState {
        path: path("note.md"),
        version: 3,
        content_hash: ContentHash::of(b"x"),
        size_bytes: 10,
        is_deleted: deleted,
        deleted_at: deleted.then(chrono::Utc::now),
        updated_at: chrono::Utc::now(),
        updated_by: Some(A),
        change_seq: 7,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Row {
    None,
    Live,
    Tombstone,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Base {
    /// The server's version (0 when there is no row).
    Server,
    /// One behind the server's (2).
    Behind,
    /// A version the server never had at this path (5).
    Unrelated,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Twin {
    None,
    Vault,
    Request,
}

fn base_of(row: Row, base: Base) -> Version {
    let v = match (row, base) {
        (Row::None, Base::Server) => 0,
        (_, Base::Server) => 3,
        (_, Base::Behind) => 2,
        (_, Base::Unrelated) => 5,
    };
    Version::new(v).expect("version")
}

/// What the documented precedence says, case by case: written out per (row, base, same
/// content, device) for a request without twin and with room, then twin and quota on top.
fn expected(
    row: Row,
    base: Base,
    same: bool,
    device: DeviceId,
    twin: Twin,
    full: bool,
) -> Decision {
    use Decision::*;
    let size = if same { 10 } else { 20 };
    let plain = match (row, base, same, device == A) {
        (Row::None, Base::Server, _, _) => Write {
            version: Version::new(1).expect("v"),
            size_delta: size,
        },
        (Row::None, _, _, _) => Conflict,
        (Row::Live, Base::Server, true, _) => Unchanged,
        (Row::Live, Base::Server, false, _) => Write {
            version: Version::new(4).expect("v"),
            size_delta: 10,
        },
        (Row::Live, Base::Behind, true, true) => Unchanged, // this device's retry
        (Row::Live, Base::Behind, true, false) => SameContentNewer,
        (Row::Live, Base::Unrelated, true, _) => SameContentNewer,
        (Row::Live, _, false, _) => Conflict,
        (Row::Tombstone, Base::Server, _, _) => Write {
            version: Version::new(4).expect("v"),
            size_delta: size,
        },
        (Row::Tombstone, _, _, _) => Conflict,
    };
    let content_is_the_servers = row == Row::Live && same;
    if twin != Twin::None && !content_is_the_servers {
        let existing = if twin == Twin::Vault {
            "NOTE.md"
        } else {
            "Note.md"
        };
        return CaseConflict {
            existing: path(existing),
        };
    }
    match plain {
        Write { size_delta, .. } if full && size_delta > 0 => QuotaExceeded,
        other => other,
    }
}

#[test]
fn every_combination_decides_as_the_table_says() {
    let mut cases = 0;
    for row_kind in [Row::None, Row::Live, Row::Tombstone] {
        for base in [Base::Server, Base::Behind, Base::Unrelated] {
            for same in [true, false] {
                for device in [A, B] {
                    for twin in [Twin::None, Twin::Vault, Twin::Request] {
                        for full in [false, true] {
                            let server = match row_kind {
                                Row::None => None,
                                Row::Live => Some(row(false)),
                                Row::Tombstone => Some(row(true)),
                            };
                            let rows: HashMap<VaultPath, FileState> =
                                server.into_iter().map(|r| (r.path.clone(), r)).collect();
                            let mut live = HashMap::new();
                            let mut proposals = Vec::new();
                            match twin {
                                Twin::None => {}
                                Twin::Vault => {
                                    live.insert(path("NOTE.md").case_key(), path("NOTE.md"));
                                }
                                // An earlier file of the request: refused itself (a conflict
                                // from a base that never existed), it still claims its name.
                                Twin::Request => proposals.push(Proposal {
                                    path: path("Note.md"),
                                    base: Version::new(9).expect("v"),
                                    content: content("twin", 1),
                                }),
                            }
                            proposals.push(Proposal {
                                path: path("note.md"),
                                base: base_of(row_kind, base),
                                content: if same {
                                    content("x", 10)
                                } else {
                                    content("y", 20)
                                },
                            });
                            // 95 bytes used of 100: a growth of 10 or 20 does not fit.
                            let used = if full { 95 } else { 0 };
                            let room = Room::new(used, 100);
                            let decisions =
                                decide_writes(&proposals, &rows, &live, Some(device), room);
                            let got = decisions.last().expect("decision").clone();
                            let want = expected(row_kind, base, same, device, twin, full);
                            assert_eq!(
                                got,
                                want,
                                "row {row_kind:?}, base {base:?}, same content {same}, \
                                 device {}, twin {twin:?}, quota full {full}",
                                if device == A { "A" } else { "B" }
                            );
                            cases += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(cases, 3 * 3 * 2 * 2 * 3 * 2);
}

#[test]
fn the_quota_counts_every_write_of_a_request_in_order() {
    let rows = HashMap::new();
    let live = HashMap::new();
    let new = |p: &str, size: i64| Proposal {
        path: path(p),
        base: Version::NONE,
        content: content(p, size),
    };
    let decisions = decide_writes(
        &[
            new("a.md", 40),
            new("b.md", 40),
            new("c.md", 30),
            new("d.md", 20),
        ],
        &rows,
        &live,
        Some(A),
        Room::new(0, 100),
    );
    let written: Vec<bool> = decisions
        .iter()
        .map(|d| matches!(d, Decision::Write { .. }))
        .collect();
    // 40 + 40 = 80; c (30) would make 110; d (20) makes exactly 100.
    assert_eq!(written, [true, true, false, true]);
    assert_eq!(decisions[2], Decision::QuotaExceeded);
}

#[test]
fn a_shrink_fits_even_over_a_lowered_quota() {
    let mut room = Room::new(150, 100);
    assert!(!room.take(1));
    assert!(room.take(-10));
    assert_eq!(room.used(), 140);
    assert!(room.take(0));
}

#[test]
fn room_arithmetic_is_checked() {
    let mut room = Room::new(i64::MAX - 1, u64::MAX);
    assert!(!room.take(2), "a sum past i64::MAX is refused, not wrapped");
    assert!(room.take(1), "an unlimited quota still takes what fits");
    assert_eq!(room.used(), i64::MAX);
}

#[test]
fn the_second_of_two_case_twins_in_a_request_is_refused_naming_the_first() {
    let rows = HashMap::new();
    let live = HashMap::new();
    let new = |p: &str| Proposal {
        path: path(p),
        base: Version::NONE,
        content: content("same", 1),
    };
    let decisions = decide_writes(
        &[new("Dup/Readme.md"), new("dup/README.md"), new("other.md")],
        &rows,
        &live,
        Some(A),
        Room::new(0, 100),
    );
    assert!(matches!(decisions[0], Decision::Write { .. }));
    assert_eq!(
        decisions[1],
        Decision::CaseConflict {
            existing: path("Dup/Readme.md")
        }
    );
    assert!(matches!(decisions[2], Decision::Write { .. }));
}

#[test]
fn reviving_a_tombstone_claims_its_name_against_a_twin_in_the_same_request() {
    let tomb = FileState {
        path: path("a.md"),
        ..row(true)
    };
    let rows = HashMap::from([(tomb.path.clone(), tomb)]);
    let decisions = decide_writes(
        &[
            Proposal {
                path: path("a.md"),
                base: Version::new(3).expect("v"),
                content: content("back", 4),
            },
            Proposal {
                path: path("A.md"),
                base: Version::NONE,
                content: content("twin", 4),
            },
        ],
        &rows,
        &HashMap::new(),
        Some(B),
        Room::new(0, 100),
    );
    assert!(matches!(decisions[0], Decision::Write { version, .. } if version.get() == 4));
    assert_eq!(
        decisions[1],
        Decision::CaseConflict {
            existing: path("a.md")
        }
    );
}

#[test]
fn deletes_decide_as_documented() {
    let live = row(false);
    let tomb = row(true);
    let v = |n| Version::new(n).expect("v");
    let p = path("note.md");
    let cases = [
        (None, v(1), DeleteDecision::NotFound),
        (Some(&tomb), v(3), DeleteDecision::AlreadyDeleted),
        (Some(&tomb), v(1), DeleteDecision::AlreadyDeleted),
        (Some(&live), v(2), DeleteDecision::Conflict),
        (Some(&live), v(5), DeleteDecision::Conflict),
        (
            Some(&live),
            v(3),
            DeleteDecision::Tombstone {
                version: v(4),
                size_delta: -10,
            },
        ),
    ];
    for (current, base, want) in cases {
        assert_eq!(
            decide_delete(current, None, &p, base),
            want,
            "{current:?} base {base}"
        );
    }
    let rows = HashMap::from([(p.clone(), live.clone())]);
    let decisions = decide_deletes(&[(path("NOTE.md"), v(1)), (p.clone(), v(3))], &rows);
    assert_eq!(decisions[0], DeleteDecision::NotFound);
    assert_eq!(
        decisions[1],
        DeleteDecision::CaseConflict {
            existing: path("NOTE.md")
        },
        "the second of two case twins in one delete is refused"
    );
}

#[test]
fn a_live_path_keeps_its_name_when_a_twin_before_it_in_the_request_is_refused() {
    let live = FileState {
        path: path("B.md"),
        ..row(false)
    };
    let rows = HashMap::from([(live.path.clone(), live.clone())]);
    let keys = HashMap::from([(live.path.case_key(), live.path.clone())]);
    let decisions = decide_writes(
        &[
            Proposal {
                path: path("b.md"),
                base: Version::NONE,
                content: content("twin", 1),
            },
            Proposal {
                path: path("B.md"),
                base: Version::new(3).expect("v"),
                content: content("edit", 4),
            },
        ],
        &rows,
        &keys,
        Some(A),
        Room::new(0, 100),
    );
    assert_eq!(
        decisions[0],
        Decision::CaseConflict {
            existing: path("B.md")
        }
    );
    assert!(matches!(decisions[1], Decision::Write { .. }));
}

#[test]
fn a_note_created_after_a_compaction_starts_above_every_compacted_version() {
    let live = HashMap::new();
    let new = Proposal {
        path: path("note.md"),
        base: Version::NONE,
        content: content("again", 5),
    };
    let cases: &[(&str, Option<FileState>, i64, Decision)] = &[
        (
            "no compaction: version 1",
            None,
            0,
            Decision::Write {
                version: Version::new(1).expect("v"),
                size_delta: 5,
            },
        ),
        (
            "a tombstone at 7 was compacted: 8, never a number a device may know",
            None,
            7,
            Decision::Write {
                version: Version::new(8).expect("v"),
                size_delta: 5,
            },
        ),
        (
            "the retry of that create, its answer lost: unchanged",
            Some(FileState {
                version: 8,
                content_hash: ContentHash::of(b"again"),
                size_bytes: 5,
                ..row(false)
            }),
            7,
            Decision::Unchanged,
        ),
        (
            "another device's create of the same bytes: the server is ahead",
            Some(FileState {
                version: 8,
                content_hash: ContentHash::of(b"again"),
                size_bytes: 5,
                updated_by: Some(B),
                ..row(false)
            }),
            7,
            Decision::SameContentNewer,
        ),
    ];
    for (what, current, compacted, want) in cases {
        let rows: HashMap<VaultPath, FileState> = current
            .iter()
            .map(|r| (r.path.clone(), r.clone()))
            .collect();
        let got = decide_writes(
            std::slice::from_ref(&new),
            &rows,
            &live,
            Some(A),
            Room::new(0, 100).above_compacted(*compacted),
        );
        assert_eq!(&got[0], want, "{what}");
    }
}
