//! Table tests of the bulk upload decisions.

use super::*;

fn blob(bytes: &[u8], offset: i64, length: i64) -> BulkBlob {
    BulkBlob {
        content_hash: ContentHash::of(bytes).to_hex(),
        offset,
        length,
    }
}

#[test]
fn an_index_must_lie_back_to_back_and_fit() {
    let max = MAX_BULK_PACK_BYTES;
    let good_hash = ContentHash::of(b"a").to_hex();
    // (what, index, Ok(covered) or Err(code))
    let cases: Vec<(&str, Vec<BulkBlob>, Result<usize, ErrorCode>)> = vec![
        ("one blob", vec![blob(b"a", 0, 1)], Ok(1)),
        (
            "two back to back",
            vec![blob(b"a", 0, 1), blob(b"bc", 1, 2)],
            Ok(3),
        ),
        (
            "an empty blob",
            vec![blob(b"", 0, 0), blob(b"a", 0, 1)],
            Ok(1),
        ),
        ("empty index", vec![], Err(ErrorCode::InvalidPackIndex)),
        (
            "too many",
            (0..=MAX_BLOBS_PER_BULK_PACK)
                .map(|i| blob(&i.to_le_bytes(), 0, 0))
                .collect(),
            Err(ErrorCode::InvalidPackIndex),
        ),
        (
            "a gap",
            vec![blob(b"a", 0, 1), blob(b"b", 2, 1)],
            Err(ErrorCode::InvalidPackIndex),
        ),
        (
            "an overlap",
            vec![blob(b"ab", 0, 2), blob(b"b", 1, 1)],
            Err(ErrorCode::InvalidPackIndex),
        ),
        (
            "not from 0",
            vec![blob(b"a", 1, 1)],
            Err(ErrorCode::InvalidPackIndex),
        ),
        (
            "negative offset",
            vec![blob(b"a", -1, 1)],
            Err(ErrorCode::InvalidPackIndex),
        ),
        (
            "negative length",
            vec![blob(b"a", 0, -1)],
            Err(ErrorCode::InvalidPackIndex),
        ),
        (
            "a length past the largest pack",
            vec![blob(b"a", 0, max + 1)],
            Err(ErrorCode::InvalidPackIndex),
        ),
        (
            "lengths that would overflow",
            vec![blob(b"a", 0, max), blob(b"b", max, i64::MAX)],
            Err(ErrorCode::InvalidPackIndex),
        ),
        (
            "a sum past the largest pack",
            vec![blob(b"a", 0, max), blob(b"b", max, 1)],
            Err(ErrorCode::InvalidPackIndex),
        ),
        (
            "exactly the largest",
            vec![blob(b"a", 0, max)],
            Ok(max as usize),
        ),
        (
            "a blob twice",
            vec![blob(b"a", 0, 1), blob(b"a", 1, 1)],
            Err(ErrorCode::InvalidPackIndex),
        ),
        (
            "a bad hash",
            vec![BulkBlob {
                content_hash: good_hash.to_uppercase(),
                offset: 0,
                length: 1,
            }],
            Err(ErrorCode::InvalidContentHash),
        ),
    ];
    for (what, index, expect) in cases {
        let got = check_index(&index)
            .map(|(_, covered)| covered)
            .map_err(|e| e.code());
        assert_eq!(got, expect, "{what}");
    }
}

#[test]
fn every_blob_is_checked_against_its_hash() {
    let (entries, covered) =
        check_index(&[blob(b"ab", 0, 2), blob(b"", 2, 0), blob(b"cde", 2, 3)]).expect("index");
    assert_eq!(covered, 5);
    assert_eq!(entries[2].size(), 3);
    let cases: Vec<(&str, &[u8], Result<(), Mismatch>)> = vec![
        ("the bytes of the index", b"abcde", Ok(())),
        (
            "one byte off in the last blob",
            b"abcdf",
            Err(Mismatch::Blob { i: 2 }),
        ),
        (
            "the first blob wrong",
            b"xbcde",
            Err(Mismatch::Blob { i: 0 }),
        ),
        (
            "shorter",
            b"abcd",
            Err(Mismatch::Length {
                indexed: 5,
                actual: 4,
            }),
        ),
        (
            "longer",
            b"abcdef",
            Err(Mismatch::Length {
                indexed: 5,
                actual: 6,
            }),
        ),
    ];
    for (what, bytes, expect) in cases {
        assert_eq!(verify(bytes, &entries, covered), expect, "{what}");
    }
}

#[test]
fn a_start_names_a_hash_and_a_length_in_range() {
    let hash = ContentHash::of(b"pack").to_hex();
    let cases: Vec<(&str, String, i64, Option<ErrorCode>)> = vec![
        ("good", hash.clone(), 10, None),
        ("the largest", hash.clone(), MAX_BULK_PACK_BYTES, None),
        ("empty", hash.clone(), 0, Some(ErrorCode::InvalidSize)),
        ("negative", hash.clone(), -5, Some(ErrorCode::InvalidSize)),
        (
            "too large",
            hash.clone(),
            MAX_BULK_PACK_BYTES + 1,
            Some(ErrorCode::InvalidSize),
        ),
        ("huge", hash, i64::MAX, Some(ErrorCode::InvalidSize)),
        (
            "bad hash",
            "xyz".into(),
            10,
            Some(ErrorCode::InvalidContentHash),
        ),
    ];
    for (what, content_hash, size_bytes, expect) in cases {
        let got = parse_start(&BulkRequest {
            content_hash,
            size_bytes,
        });
        assert_eq!(got.err().map(|e| e.code()), expect, "{what}");
    }
}

#[test]
fn a_pack_id_is_a_uuid() {
    assert_eq!(
        parse_pack_id("nope").map_err(|e| e.code()),
        Err(ErrorCode::PackNotFound)
    );
    let id = uuid::Uuid::new_v4();
    assert_eq!(parse_pack_id(&id.to_string()).ok(), Some(id));
}
