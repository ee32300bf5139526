use super::*;
use crate::domain::{ContentHash, DeviceId, Version};
use crate::vault::rules::Content;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

#[test]
fn the_rewind_form_is_parsed_as_documented() {
    let now = at("2026-12-07T12:00:00Z");
    let days = TimeDelta::days(30);
    let n = |v: u64| Some(serde_json::Number::from(v));
    // (as_of, prefix, resume, limit, Ok(prefix, limit, resume) or Err(code))
    type Want = Result<(Option<&'static str>, u32, Option<(i64, i64, i64)>), ErrorCode>;
    type Case = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<serde_json::Number>,
        Want,
    );
    let cases: Vec<Case> = vec![
        (
            "2026-12-07T11:00:00Z",
            None,
            None,
            None,
            Ok((None, DEFAULT_REWIND_PAGE, None)),
        ),
        (
            "2026-12-07T12:00:00Z",
            Some("thoughts"),
            None,
            n(1),
            Ok((Some("thoughts/"), 1, None)),
        ),
        (
            "2026-12-07T11:00:00+01:00",
            Some("thoughts/"),
            None,
            n(5000),
            Ok((Some("thoughts/"), 5000, None)),
        ),
        (
            "2026-12-07T11:00:00Z",
            Some("/"),
            Some("r3.9.4"),
            None,
            Ok((None, DEFAULT_REWIND_PAGE, Some((3, 9, 4)))),
        ),
        (
            "2026-12-07T12:00:01Z",
            None,
            None,
            None,
            Err(ErrorCode::InvalidAsOf),
        ),
        (
            "2026-11-07T11:59:59Z",
            None,
            None,
            None,
            Err(ErrorCode::InvalidAsOf),
        ),
        ("yesterday", None, None, None, Err(ErrorCode::InvalidAsOf)),
        (
            "2026-12-07T11:00:00Z",
            None,
            None,
            n(0),
            Err(ErrorCode::InvalidLimit),
        ),
        (
            "2026-12-07T11:00:00Z",
            None,
            None,
            n(5001),
            Err(ErrorCode::InvalidLimit),
        ),
        (
            "2026-12-07T11:00:00Z",
            None,
            None,
            Some(serde_json::Number::from(-1)),
            Err(ErrorCode::InvalidLimit),
        ),
        (
            "2026-12-07T11:00:00Z",
            Some("a/../b"),
            None,
            None,
            Err(ErrorCode::InvalidPath),
        ),
        (
            "2026-12-07T11:00:00Z",
            None,
            Some("r3.9"),
            None,
            Err(ErrorCode::InvalidCursor),
        ),
        (
            "2026-12-07T11:00:00Z",
            None,
            Some("r3.9.9"),
            None,
            Err(ErrorCode::InvalidCursor),
        ),
        (
            "2026-12-07T11:00:00Z",
            None,
            Some("r3.9.0"),
            None,
            Err(ErrorCode::InvalidCursor),
        ),
        (
            "2026-12-07T11:00:00Z",
            None,
            Some("r10.9.4"),
            None,
            Err(ErrorCode::InvalidCursor),
        ),
        (
            "2026-12-07T11:00:00Z",
            None,
            Some("r3.+9.4"),
            None,
            Err(ErrorCode::InvalidCursor),
        ),
        (
            "2026-12-07T11:00:00Z",
            None,
            Some("c3.9.4"),
            None,
            Err(ErrorCode::InvalidCursor),
        ),
        (
            "2026-12-07T11:00:00Z",
            None,
            Some("r3.99999999999999999999.4"),
            None,
            Err(ErrorCode::InvalidCursor),
        ),
    ];
    for (as_of, prefix, resume, limit, want) in cases {
        let got = parse_page(
            as_of,
            now,
            days,
            prefix.map(str::to_owned),
            false,
            resume.map(str::to_owned),
            limit,
        );
        match (got, want) {
            (Ok(page), Ok((p, l, r))) => {
                assert_eq!(page.prefix.as_deref(), p, "{as_of} {prefix:?}");
                assert_eq!(page.limit, l, "{as_of} {prefix:?}");
                let r = r.map(|(target_seq, head_seq, done_seq)| RewindPosition {
                    target_seq,
                    head_seq,
                    done_seq,
                });
                assert_eq!(page.resume, r, "{as_of} {resume:?}");
                if let Some(r) = &page.resume {
                    assert_eq!(Some(format_resume(r)), resume.map(str::to_owned));
                }
            }
            (Err(e), Err(code)) => assert_eq!(e.code(), code, "{as_of} {prefix:?} {resume:?}"),
            (got, want) => panic!("{as_of} {prefix:?} {resume:?}: {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn a_resume_must_belong_to_the_rewind_asked() {
    let p = |target_seq, head_seq, done_seq| RewindPosition {
        target_seq,
        head_seq,
        done_seq,
    };
    // (resume, target now, head now, start)
    let cases = [
        (None, 4, 10, Some(p(4, 10, 0))),
        (Some(p(4, 10, 6)), 4, 10, Some(p(4, 10, 6))),
        (Some(p(4, 10, 6)), 4, 15, Some(p(4, 10, 6))), // later changes are left alone
        (Some(p(4, 10, 6)), 5, 15, None),              // another as_of
        (Some(p(4, 10, 6)), 4, 9, None),               // a head the account never had
        (Some(p(4, 10, 10)), 4, 10, None),             // nothing left
    ];
    for (resume, target, head, want) in cases {
        assert_eq!(
            start(resume, target, head),
            want,
            "{resume:?} {target} {head}"
        );
    }
}

fn row(path: &str, version: i64, tag: &str, size: i64, deleted: bool, seq: i64) -> FileState {
    FileState {
        path: VaultPath::parse(path).expect("path"),
        version,
        content_hash: ContentHash::of(tag.as_bytes()),
        size_bytes: size,
        is_deleted: deleted,
        deleted_at: deleted.then(Utc::now),
        updated_at: Utc::now(),
        updated_by: Some(DeviceId(uuid::Uuid::from_u128(1))),
        change_seq: seq,
    }
}

fn was(tag: &str, size: i64, deleted: bool) -> PastState {
    PastState {
        content: Content {
            hash: ContentHash::of(tag.as_bytes()),
            size,
        },
        is_deleted: deleted,
        stored: true,
    }
}

#[test]
fn a_page_deletes_first_so_restores_take_back_names_and_room() {
    use RewindDecision::*;
    let v = |n| Version::new(n).expect("v");
    // a.md was "old" (4 bytes); A.md is live now and did not exist then; b.md was deleted
    // then; c.md was created later.
    let rows = vec![
        row("a.md", 2, "old", 4, true, 5),
        row("A.md", 1, "twin", 6, false, 6),
        row("b.md", 3, "b", 3, false, 7),
        row("c.md", 1, "c", 2, false, 8),
    ];
    let past = |r: &FileState| match r.path.as_str() {
        "a.md" => Some(was("old", 4, false)),
        "b.md" => Some(was("b", 3, true)),
        _ => None,
    };
    let live = |paths: &[&str]| -> HashMap<String, VaultPath> {
        paths
            .iter()
            .map(|p| {
                let p = VaultPath::parse(p).expect("path");
                (p.case_key(), p)
            })
            .collect()
    };
    // (remove_newer, vault size, quota, expected)
    let cases = [
        // Kept: A.md holds the name a.md needs.
        (
            false,
            11,
            100,
            vec![
                CaseConflict {
                    existing: VaultPath::parse("A.md").expect("path"),
                },
                KeptNewer,
                Delete {
                    version: v(4),
                    size_delta: -3,
                },
                KeptNewer,
            ],
        ),
        // remove_newer deletes A.md first: a.md gets its name back.
        (
            true,
            11,
            100,
            vec![
                Restore {
                    version: v(3),
                    size_delta: 4,
                },
                Delete {
                    version: v(2),
                    size_delta: -6,
                },
                Delete {
                    version: v(4),
                    size_delta: -3,
                },
                Delete {
                    version: v(2),
                    size_delta: -2,
                },
            ],
        ),
        // A full vault: the room the deletions free is there for the restore.
        (
            true,
            11,
            11,
            vec![
                Restore {
                    version: v(3),
                    size_delta: 4,
                },
                Delete {
                    version: v(2),
                    size_delta: -6,
                },
                Delete {
                    version: v(4),
                    size_delta: -3,
                },
                Delete {
                    version: v(2),
                    size_delta: -2,
                },
            ],
        ),
    ];
    for (remove_newer, size, quota, want) in cases {
        let got = decide_page(
            &rows,
            past,
            live(&["A.md", "b.md", "c.md"]),
            remove_newer,
            size,
            quota,
        );
        assert_eq!(got, want, "remove_newer {remove_newer}, quota {quota}");
    }
    // Without deletions to free room, a restore past the quota is refused.
    let got = decide_page(&rows[..1], past, live(&[]), false, 11, 12);
    assert_eq!(got, vec![QuotaExceeded]);
}
