//! Which live packs answer a packs request without building anything: a pure decision,
//! table-tested. A pack already written for the caller (by an earlier packs request, or a
//! bulk upload's incoming pack kept by its confirm) is handed out again when every blob it
//! holds is among the requested ones still in use (no byte the device did not ask for), and
//! each requested blob comes from at most one pack of the answer.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::ContentHash;
use crate::storage::PRESIGN_TTL;
use steel_protocol::wire::{Pack, PackedBlob};

use super::PACK_LIFETIME;

/// What a pack must have left of its lifetime, beyond its URL's [`PRESIGN_TTL`], to be
/// handed out again: a GET started just before the URL expires has this long to finish
/// before the janitor deletes the object.
pub const REUSE_MARGIN: TimeDelta = TimeDelta::minutes(10);

/// The oldest creation time of a pack that may be handed out at `now`: [`PACK_LIFETIME`]
/// less [`PRESIGN_TTL`] and [`REUSE_MARGIN`] ago (45 minutes).
pub fn reusable_since(now: DateTime<Utc>) -> DateTime<Utc> {
    // A URL's life that does not fit a TimeDelta leaves no window at all: nothing is reused.
    let ttl = TimeDelta::from_std(PRESIGN_TTL).unwrap_or(PACK_LIFETIME);
    now - (PACK_LIFETIME - ttl - REUSE_MARGIN)
}

/// A live pack of the caller's: its id, its length and its index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept<K> {
    pub id: K,
    pub size_bytes: i64,
    pub blobs: Vec<PackedBlob>,
}

/// Of `kept`, the packs to hand out for a request whose used blobs are `found` (with their
/// sizes): those whose every blob is in `found` with its size, largest first (then by
/// index, so that the choice does not depend on the order they were read in), each taken
/// only if none of its blobs is in a pack taken before. An empty pack is never taken.
pub fn choose<K: Clone>(kept: &[Kept<K>], found: &HashMap<ContentHash, i64>) -> Vec<Kept<K>> {
    let mut fits: Vec<&Kept<K>> = kept
        .iter()
        .filter(|p| {
            !p.blobs.is_empty()
                && p.blobs
                    .iter()
                    .all(|b| found.get(&b.content_hash) == Some(&b.length))
        })
        .collect();
    fits.sort_by(|a, b| {
        b.size_bytes.cmp(&a.size_bytes).then_with(|| {
            let key = |p: &Kept<K>| {
                p.blobs
                    .iter()
                    .map(|b| (b.content_hash.to_hex(), b.offset, b.length))
                    .collect::<Vec<_>>()
            };
            key(a).cmp(&key(b))
        })
    });
    let mut taken: HashSet<ContentHash> = HashSet::new();
    let mut out = Vec::new();
    for pack in fits {
        let mut own = HashSet::with_capacity(pack.blobs.len());
        // A pack naming a blob twice is not one we wrote: never handed out.
        let whole = pack.blobs.iter().all(|b| own.insert(b.content_hash));
        if whole && own.is_disjoint(&taken) {
            taken.extend(own);
            out.push(pack.clone());
        }
    }
    out
}

/// Of `wanted`, in its order, the hashes no pack of `reused` holds: what is left to build.
pub fn uncovered(wanted: &[ContentHash], reused: &[Pack]) -> Vec<ContentHash> {
    let covered: HashSet<ContentHash> = (reused.iter())
        .flat_map(|p| p.blobs.iter().map(|b| b.content_hash))
        .collect();
    (wanted.iter())
        .filter(|h| !covered.contains(h))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> ContentHash {
        ContentHash::of(&[n])
    }

    /// A pack `id` of blobs `(n, length)` back to back.
    fn pack(id: u8, blobs: &[(u8, i64)]) -> Kept<u8> {
        let mut offset = 0;
        let blobs = blobs
            .iter()
            .map(|(n, length)| {
                let b = PackedBlob {
                    content_hash: h(*n),
                    offset,
                    length: *length,
                };
                offset += length;
                b
            })
            .collect();
        Kept {
            id,
            size_bytes: offset,
            blobs,
        }
    }

    #[test]
    fn whole_packs_of_requested_blobs_are_taken_largest_first_without_overlap() {
        // (what, kept packs, found blobs (n, size), ids taken in order)
        type Case = (&'static str, Vec<Kept<u8>>, Vec<(u8, i64)>, Vec<u8>);
        let found_all: Vec<(u8, i64)> = (1..=9).map(|n| (n, 10)).collect();
        let cases: Vec<Case> = vec![
            ("no packs", vec![], found_all.clone(), vec![]),
            (
                "one pack, all asked",
                vec![pack(1, &[(1, 10), (2, 10)])],
                found_all.clone(),
                vec![1],
            ),
            (
                "a blob not asked (or no longer used): not taken",
                vec![pack(1, &[(1, 10), (2, 10)])],
                vec![(1, 10)],
                vec![],
            ),
            (
                "partial cover: the fitting pack only",
                vec![pack(1, &[(1, 10), (2, 10)]), pack(2, &[(3, 10), (9, 10)])],
                vec![(1, 10), (2, 10), (3, 10)],
                vec![1],
            ),
            (
                "largest first, an overlapping smaller one left",
                vec![
                    pack(1, &[(1, 10), (2, 10)]),
                    pack(2, &[(2, 10), (3, 10), (4, 10)]),
                    pack(3, &[(5, 10)]),
                ],
                found_all.clone(),
                vec![2, 3],
            ),
            (
                "a size other than the blob's: not taken",
                vec![pack(1, &[(1, 11)])],
                found_all.clone(),
                vec![],
            ),
            (
                "an empty pack: not taken",
                vec![pack(1, &[])],
                found_all.clone(),
                vec![],
            ),
            (
                "a blob twice in one pack: not taken",
                vec![pack(1, &[(1, 10), (1, 10)])],
                found_all.clone(),
                vec![],
            ),
            (
                "same size: by index, whatever the order read",
                vec![pack(2, &[(4, 10)]), pack(1, &[(3, 10)])],
                found_all.clone(),
                if h(3).to_hex() < h(4).to_hex() {
                    vec![1, 2]
                } else {
                    vec![2, 1]
                },
            ),
            (
                "the same blobs twice: one of them",
                vec![pack(1, &[(1, 10)]), pack(2, &[(1, 10)])],
                found_all,
                vec![1],
            ),
        ];
        for (what, kept, found, expect) in cases {
            let found: HashMap<ContentHash, i64> =
                found.into_iter().map(|(n, s)| (h(n), s)).collect();
            let got: Vec<u8> = choose(&kept, &found).into_iter().map(|p| p.id).collect();
            assert_eq!(got, expect, "{what}");
            // Whatever was taken: each blob once.
            let mut seen = HashSet::new();
            for p in choose(&kept, &found) {
                for b in &p.blobs {
                    assert!(seen.insert(b.content_hash), "{what}: a blob twice");
                }
            }
        }
    }

    #[test]
    fn a_pack_is_reused_for_45_minutes_of_its_hour() {
        let now = Utc::now();
        let since = reusable_since(now);
        assert_eq!(now - since, TimeDelta::minutes(45));
        assert!(since > now - PACK_LIFETIME);
    }

    #[test]
    fn what_no_reused_pack_holds_is_left_to_build_in_the_order_asked() {
        let blob = |n: u8| PackedBlob {
            content_hash: h(n),
            offset: 0,
            length: 1,
        };
        let reused = [Pack {
            download_url: String::new(),
            expires_at: DateTime::<Utc>::UNIX_EPOCH,
            size_bytes: 2,
            blobs: vec![blob(2), blob(4)],
        }];
        assert_eq!(
            uncovered(&[h(1), h(2), h(3), h(4)], &reused),
            vec![h(1), h(3)]
        );
        assert_eq!(uncovered(&[h(3), h(1)], &[]), vec![h(3), h(1)]);
        assert!(uncovered(&[h(2), h(4)], &reused).is_empty());
    }
}
