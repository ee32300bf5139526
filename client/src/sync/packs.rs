//! Fetching many notes through packs (`POST /vault/packs`): the hashes the server listed go
//! in one request per 10,000, each answered pack is read with one GET and cut along its
//! index, and every blob is checked against its hash before anything is kept (one blob that
//! does not match fails the fetch: nothing of it is written). What the server did not pack
//! (`unpacked`, or still `remaining` after a few asks, or a pack gone before its GET) is left
//! for the per-note path, which says what became of each note.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::bounded::for_each_bounded;
use super::pull::Fetched;
use super::{Progress, Syncer};
use crate::api::{Download, MAX_HASHES_PER_PACKS_REQUEST, Pack, PackedBlob};
use crate::error::{Result, SyncError};
use crate::scan::hash_bytes;
use crate::store::Version;

/// From how many notes to fetch a sync goes through packs (fewer go one GET per note).
/// Note by note, N notes cost one pull and N/16 rounds of parallel GETs; through packs, one
/// packs request (the server reads and writes the blobs in the bucket before it answers:
/// about one more round trip plus its work) and one GET per pack. At a phone's 50 ms round
/// trip the two meet at about 32 notes; 64 leaves small pulls (the everyday case) on the
/// path that puts no work on the server. Estimated from those counts, not measured at the
/// crossing (BENCHMARKS.md part 2 measures 10,000 notes both ways).
pub const PACK_THRESHOLD: usize = 64;
/// How many times the hashes a packs answer left `remaining` are asked for again.
const PACK_ASKS: usize = 4;
/// Packs read at once (each up to 64 MiB).
const PACK_CONCURRENCY: usize = 4;

/// A pack's blobs, cut out along its index, each checked against its hash: the first blob
/// out of the pack's bounds or not matching its hash refuses the whole pack (its hash).
pub fn split_pack(
    bytes: &[u8],
    index: &[PackedBlob],
) -> std::result::Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::with_capacity(index.len());
    for blob in index {
        let expected = blob.content_hash.to_hex();
        let start = usize::try_from(blob.offset).map_err(|_| expected.clone())?;
        let len = usize::try_from(blob.length).map_err(|_| expected.clone())?;
        let end = start.checked_add(len).ok_or_else(|| expected.clone())?;
        let part = bytes.get(start..end).ok_or_else(|| expected.clone())?;
        if hash_bytes(part) != expected {
            return Err(expected);
        }
        out.push((expected, part.to_vec()));
    }
    Ok(out)
}

/// One pack read: its blobs, or (a pack gone before its GET: 404) the hashes to ask again.
type PackRead = (Vec<(String, Vec<u8>)>, Vec<String>);

impl Syncer {
    /// From how many notes a fetch goes through packs (see [`PACK_THRESHOLD`];
    /// `usize::MAX`: never, 1: always).
    pub fn set_pack_threshold(&mut self, notes: usize) {
        self.pack_threshold = notes;
    }

    /// The bytes of `wanted` (path and the version the server listed) through packs, by
    /// path; a path missing from the answer is for the per-note path.
    pub(super) async fn fetch_packed(
        &self,
        wanted: &[(String, Version)],
    ) -> Result<HashMap<String, Fetched>> {
        let mut by_hash: BTreeMap<String, Vec<&(String, Version)>> = BTreeMap::new();
        for w in wanted {
            by_hash.entry(w.1.hash.clone()).or_default().push(w);
        }
        // A blob that does not match is reported under the first note that has it.
        let names = by_hash
            .iter()
            .map(|(h, paths)| (h.clone(), paths[0].0.clone()))
            .collect();
        let got = self.packed_blobs(names).await?;
        let mut fetched = HashMap::new();
        for (hash, paths) in &by_hash {
            let Some(bytes) = got.get(hash) else {
                continue;
            };
            for (path, version) in paths {
                let one = Fetched {
                    version: version.clone(),
                    bytes: bytes.clone(),
                };
                fetched.insert(path.clone(), one);
            }
        }
        Ok(fetched)
    }

    /// An encrypted vault's `wanted` through packs, for the versions the state listing
    /// named with their sealed fields and stored hash (no pull needed); every blob is
    /// opened and checked exactly as a GET of its URL is. A path missing from the answer
    /// is for the per-note path.
    pub(super) async fn fetch_listed_sealed(
        &self,
        wanted: &[(String, Version)],
    ) -> Result<HashMap<String, Fetched>> {
        let expected: Vec<_> = (wanted.iter())
            .filter_map(|(path, v)| Some((path, v.number, self.api.listed_sealed(path, v.number)?)))
            .collect();
        let names = (expected.iter())
            .map(|(path, _, e)| (e.content_hash.to_hex(), path.to_string()))
            .collect();
        let got = self.packed_blobs(names).await?;
        let mut fetched = HashMap::new();
        for (path, number, e) in expected {
            if let Some(bytes) = got.get(&e.content_hash.to_hex()) {
                let (bytes, hash) = self.api.open_listed(&e, bytes)?;
                let version = Version::new(number, hash);
                fetched.insert(path.clone(), Fetched { version, bytes });
            }
        }
        Ok(fetched)
    }

    /// An encrypted vault's pulled `files` through packs: packs index what is stored, the
    /// ciphertext, whose hash only a pull answers (the engine knows notes by plaintext
    /// hash), so the pulls come first. Every blob is opened and checked exactly as a GET of
    /// its URL is; what the packs did not bring is fetched note by note.
    pub(super) async fn fetch_sealed_packed(
        &self,
        files: Vec<Download>,
    ) -> Result<HashMap<String, Fetched>> {
        let stored: Vec<Option<String>> = files.iter().map(|f| self.api.stored_hash(f)).collect();
        let names = files
            .iter()
            .zip(&stored)
            .filter_map(|(f, h)| Some((h.clone()?, f.path.to_string())))
            .collect();
        let got = self.packed_blobs(names).await?;
        let mut fetched = HashMap::new();
        let mut rest = Vec::new();
        for (file, hash) in files.into_iter().zip(stored) {
            match hash.and_then(|h| got.get(&h)) {
                Some(bytes) => {
                    let (plain, hash) = self.api.open_stored(&file, bytes)?;
                    let one = Fetched {
                        version: Version::new(file.version, hash),
                        bytes: plain,
                    };
                    fetched.insert(file.path.to_string(), one);
                }
                None => rest.push(file),
            }
        }
        fetched.extend(self.fetch_downloads(&rest).await?);
        Ok(fetched)
    }

    /// The blobs of `names` (stored hash → the note to name if it fails its check) through
    /// packs, by stored hash; a hash the server did not pack is missing from the answer.
    async fn packed_blobs(
        &self,
        names: HashMap<String, String>,
    ) -> Result<HashMap<String, Vec<u8>>> {
        let names = Arc::new(names);
        let mut hashes: Vec<String> = names.keys().cloned().collect();
        hashes.sort();
        let mut got: HashMap<String, Vec<u8>> = HashMap::new();
        for chunk in hashes.chunks(MAX_HASHES_PER_PACKS_REQUEST) {
            let mut ask = chunk.to_vec();
            for _ in 0..PACK_ASKS {
                if ask.is_empty() {
                    break;
                }
                let answer = self.api.packs(&ask).await?;
                ask = answer.remaining.iter().map(|h| h.to_hex()).collect();
                let mut again = Vec::new();
                self.read_packs(answer.packs, &names, |(blobs, retry)| {
                    got.extend(blobs);
                    again.extend(retry);
                    self.report_progress(Progress::Downloaded {
                        done: got.len(),
                        total: hashes.len(),
                    });
                })
                .await?;
                ask.extend(again);
            }
        }
        Ok(got)
    }

    /// GETs `packs`, [`PACK_CONCURRENCY`] at a time, and hands each one's checked blobs to
    /// `done`.
    async fn read_packs(
        &self,
        packs: Vec<Pack>,
        names: &Arc<HashMap<String, String>>,
        done: impl FnMut(PackRead),
    ) -> Result<()> {
        let api = &self.api;
        for_each_bounded(
            packs,
            PACK_CONCURRENCY,
            |pack| {
                let (api, names) = (api.clone(), names.clone());
                async move {
                    let hashes = || pack.blobs.iter().map(|b| b.content_hash.to_hex()).collect();
                    let bytes = match api.download(&pack.download_url).await {
                        Ok(bytes) => bytes,
                        // Deleted since (a blob of it was collected): ask again.
                        Err(SyncError::Api { status: 404, .. }) => return Ok((vec![], hashes())),
                        Err(e) => return Err(e),
                    };
                    let blobs = split_pack(&bytes, &pack.blobs).map_err(|expected| {
                        SyncError::Integrity {
                            path: names.get(&expected).cloned().unwrap_or_default(),
                            expected,
                        }
                    })?;
                    Ok((blobs, Vec::new()))
                }
            },
            done,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steel_protocol::ContentHash;

    fn entry(bytes: &[u8], offset: i64, length: i64) -> PackedBlob {
        PackedBlob {
            content_hash: ContentHash::of(bytes),
            offset,
            length,
        }
    }

    #[test]
    fn a_pack_is_cut_along_its_index_and_every_blob_checked() {
        let pack = b"alphabetagamma";
        let (a, b, g) = (&b"alpha"[..], &b"beta"[..], &b"gamma"[..]);
        let hex = |x: &[u8]| ContentHash::of(x).to_hex();
        type Case = (
            &'static str,
            Vec<PackedBlob>,
            std::result::Result<Vec<&'static [u8]>, String>,
        );
        let cases: Vec<Case> = vec![
            (
                "all three",
                vec![entry(a, 0, 5), entry(b, 5, 4), entry(g, 9, 5)],
                Ok(vec![a, b, g]),
            ),
            ("one of them", vec![entry(b, 5, 4)], Ok(vec![b])),
            ("an empty index", vec![], Ok(vec![])),
            ("an empty blob", vec![entry(b"", 14, 0)], Ok(vec![b""])),
            (
                "wrong bytes",
                vec![entry(a, 0, 5), entry(b, 4, 4)],
                Err(hex(b)),
            ),
            ("past the end", vec![entry(g, 9, 6)], Err(hex(g))),
            ("a negative offset", vec![entry(a, -1, 5)], Err(hex(a))),
            ("a negative length", vec![entry(a, 0, -5)], Err(hex(a))),
            (
                "an overflowing end",
                vec![entry(a, i64::MAX, i64::MAX)],
                Err(hex(a)),
            ),
        ];
        for (what, index, expect) in cases {
            let got = split_pack(pack, &index);
            let expect = expect.map(|blobs| {
                blobs
                    .into_iter()
                    .map(|x| (hex(x), x.to_vec()))
                    .collect::<Vec<_>>()
            });
            assert_eq!(got, expect, "{what}");
        }
    }

    #[test]
    fn one_flipped_byte_refuses_the_pack() {
        let mut pack = b"alphabeta".to_vec();
        let index = [entry(b"alpha", 0, 5), entry(b"beta", 5, 4)];
        assert!(split_pack(&pack, &index).is_ok());
        pack[7] ^= 1;
        assert_eq!(
            split_pack(&pack, &index),
            Err(ContentHash::of(b"beta").to_hex())
        );
    }
}
