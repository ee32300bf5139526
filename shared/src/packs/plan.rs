//! Which requested blobs go into which pack: a pure decision, table-tested.

use std::collections::{HashMap, HashSet};

use crate::domain::ContentHash;

/// The packs to build for one request, in order, and the blobs never packed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Each pack's blobs with their sizes, in the order they will lie in it.
    pub packs: Vec<Vec<(ContentHash, i64)>>,
    /// Not a used blob of the caller's (not in `found`), or larger than a pack.
    pub unpacked: Vec<ContentHash>,
}

/// Groups `wanted` (request order, a repeated hash once) into packs of at most
/// `max_pack_bytes` each, filled in order: a blob that does not fit in the current pack
/// starts the next one. Sizes come from `found`, the caller's used blobs among `wanted`.
pub fn plan(
    wanted: &[ContentHash],
    found: &HashMap<ContentHash, i64>,
    max_pack_bytes: i64,
) -> Plan {
    let mut out = Plan::default();
    let mut seen = HashSet::new();
    let mut current: Vec<(ContentHash, i64)> = Vec::new();
    let mut current_bytes: i64 = 0;
    for hash in wanted {
        if !seen.insert(*hash) {
            continue;
        }
        let Some(&size) = found.get(hash) else {
            out.unpacked.push(*hash);
            continue;
        };
        if !(0..=max_pack_bytes).contains(&size) {
            out.unpacked.push(*hash);
            continue;
        }
        // Both are at most `max_pack_bytes`: no overflow.
        if current_bytes + size > max_pack_bytes && !current.is_empty() {
            out.packs.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current.push((*hash, size));
        current_bytes += size;
    }
    if !current.is_empty() {
        out.packs.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> ContentHash {
        ContentHash::of(&[n])
    }

    #[test]
    fn blobs_fill_packs_in_order_within_the_bound() {
        let found: HashMap<ContentHash, i64> = [
            (h(1), 4),
            (h(2), 4),
            (h(3), 3),
            (h(4), 11),
            (h(5), 0),
            (h(6), 10),
        ]
        .into();
        // (what, wanted, packs as sizes, unpacked)
        type Case = (&'static str, Vec<u8>, Vec<Vec<u8>>, Vec<u8>);
        let cases: Vec<Case> = vec![
            ("nothing asked", vec![], vec![], vec![]),
            ("one pack", vec![1, 2], vec![vec![1, 2]], vec![]),
            ("exactly full", vec![1, 2, 5], vec![vec![1, 2, 5]], vec![]),
            (
                "spills into a second",
                vec![1, 2, 3],
                vec![vec![1, 2], vec![3]],
                vec![],
            ),
            (
                "a pack-sized blob alone",
                vec![1, 6, 3],
                vec![vec![1], vec![6], vec![3]],
                vec![],
            ),
            ("too large: unpacked", vec![4, 1], vec![vec![1]], vec![4]),
            ("unknown: unpacked", vec![9, 1], vec![vec![1]], vec![9]),
            ("a repeat once", vec![1, 1, 2, 1], vec![vec![1, 2]], vec![]),
            ("an empty blob packs", vec![5], vec![vec![5]], vec![]),
        ];
        for (what, wanted, packs, unpacked) in cases {
            let wanted: Vec<ContentHash> = wanted.into_iter().map(h).collect();
            let got = plan(&wanted, &found, 10);
            let expect = Plan {
                packs: packs
                    .into_iter()
                    .map(|p| p.into_iter().map(|n| (h(n), found[&h(n)])).collect())
                    .collect(),
                unpacked: unpacked.into_iter().map(h).collect(),
            };
            assert_eq!(got, expect, "{what}");
        }
    }

    #[test]
    fn a_negative_or_huge_size_is_never_packed() {
        let found: HashMap<ContentHash, i64> = [(h(1), -1), (h(2), i64::MAX)].into();
        let got = plan(&[h(1), h(2)], &found, i64::MAX - 1);
        assert!(got.packs.is_empty());
        assert_eq!(got.unpacked, vec![h(1), h(2)]);
    }
}
