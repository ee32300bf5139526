//! `POST /vault/packs` as `handlers/packs.rs` and `packs::answer` answer it: the same parse
//! of the hashes, the same pure plan of which blob goes in which pack, the same check of
//! every blob's bytes before it is packed. Packs are built at once (the real builder's time
//! budget, and so `remaining`, never comes into play here) and served at `sim://packs/<n>`
//! until a blob of theirs is collected: the janitor's collection drops every pack holding
//! one, as the real collection deletes them in the blobs' transaction.

use std::collections::HashMap;

use chrono::Duration;
use steel_core::domain::ContentHash;
use steel_core::handlers::packs::parse_hashes;
use steel_core::packs::{MAX_PACK_BYTES, Plan, plan};
use steel_protocol::wire::{Pack, PackedBlob, PacksAnswer, PacksRequest};

use super::{Answer, Server};

/// Where the bucket serves pack `id`.
pub fn pack_url(id: u64) -> String {
    format!("sim://packs/{id}")
}

/// One pack object: the blobs it holds and its bytes.
#[derive(Debug, Clone)]
pub struct StoredPack {
    pub blobs: Vec<ContentHash>,
    pub bytes: Vec<u8>,
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
        let Plan { packs, unpacked } = plan(&wanted, &found, MAX_PACK_BYTES);
        let mut answer = PacksAnswer {
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
            self.packs
                .insert(self.pack_seq, StoredPack { blobs, bytes });
        }
        Ok(Answer::ok(&answer))
    }
}
