//! `POST /vault/packs` as `handlers/packs.rs` and `packs::answer` answer it: the same parse
//! of the hashes, the same pure choice of the live packs handed out again (`packs::choose`,
//! among packs built while `packs::reusable_since` allows), the same pure plan of which
//! other blob goes in which pack, the same check of every blob's bytes before it is packed.
//! Packs are built at once (the real builder's time budget, and so `remaining`, never comes
//! into play here) and served at `sim://packs/<n>` until a blob of theirs is collected: the
//! janitor's collection drops every pack holding one, as the real collection deletes them
//! in the blobs' transaction. (The model has no bulk upload, so no kept incoming packs.)

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use steel_core::domain::ContentHash;
use steel_core::handlers::packs::parse_hashes;
use steel_core::packs::{Kept, MAX_PACK_BYTES, Plan, choose, plan, reusable_since, uncovered};
use steel_protocol::wire::{Pack, PackedBlob, PacksAnswer, PacksRequest};

use super::{Answer, Server};

/// Where the bucket serves pack `id`.
pub fn pack_url(id: u64) -> String {
    format!("sim://packs/{id}")
}

/// One pack object: the blobs it holds, its bytes, its index and when it was built.
#[derive(Debug, Clone)]
pub struct StoredPack {
    pub blobs: Vec<ContentHash>,
    pub bytes: Vec<u8>,
    pub index: Vec<PackedBlob>,
    pub created_at: DateTime<Utc>,
}

impl Server {
    pub(super) fn packs(&mut self, body: PacksRequest) -> Result<Answer, Answer> {
        let wanted = parse_hashes(&body.hashes)
            .map_err(|e| Answer::error(e.status(), e.code(), e.to_string()))?;
        let used = self.named_hashes();
        let found: HashMap<ContentHash, i64> = wanted
            .iter()
            .filter(|h| used.contains(*h))
            .filter_map(|h| Some((*h, *self.verified.get(h)?)))
            .collect();
        let reused = self.reused(&found);
        let rest = uncovered(&wanted, &reused);
        let Plan { packs, unpacked } = plan(&rest, &found, MAX_PACK_BYTES);
        let mut answer = PacksAnswer {
            packs: reused,
            unpacked,
            ..PacksAnswer::default()
        };
        for planned in packs {
            let mut bytes = Vec::new();
            let mut index = Vec::new();
            for (hash, size) in planned {
                match self.bucket.get(&hash) {
                    Some(b) if ContentHash::of(b) == hash && i64::try_from(b.len()) == Ok(size) => {
                        let offset = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
                        index.push(PackedBlob {
                            content_hash: hash,
                            offset,
                            length: size,
                        });
                        bytes.extend_from_slice(b);
                    }
                    _ => answer.unpacked.push(hash),
                }
            }
            if index.is_empty() {
                continue;
            }
            self.pack_seq += 1;
            answer.packs.push(Pack {
                download_url: pack_url(self.pack_seq),
                expires_at: self.now + Duration::hours(1),
                size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
                blobs: index.clone(),
            });
            let blobs = index.iter().map(|b| b.content_hash).collect();
            let created_at = self.now;
            self.packs.insert(
                self.pack_seq,
                StoredPack {
                    blobs,
                    bytes,
                    index,
                    created_at,
                },
            );
        }
        Ok(Answer::ok(&answer))
    }

    /// The live packs handed out again for the used blobs `found`, as the real
    /// `packs::answer` picks them (read in id order, so a tie goes the same way each run).
    fn reused(&self, found: &HashMap<ContentHash, i64>) -> Vec<Pack> {
        let since = reusable_since(self.now);
        let mut kept: Vec<Kept<u64>> = (self.packs.iter())
            .filter(|(_, p)| p.created_at >= since)
            .filter(|(_, p)| p.blobs.iter().any(|h| found.contains_key(h)))
            .map(|(id, p)| Kept {
                id: *id,
                size_bytes: i64::try_from(p.bytes.len()).unwrap_or(i64::MAX),
                blobs: p.index.clone(),
            })
            .collect();
        kept.sort_by_key(|p| p.id);
        choose(&kept, found)
            .into_iter()
            .map(|p| Pack {
                download_url: pack_url(p.id),
                expires_at: self.now + Duration::hours(1),
                size_bytes: p.size_bytes,
                blobs: p.blobs,
            })
            .collect()
    }
}
