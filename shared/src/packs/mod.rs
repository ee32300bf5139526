//! Packs (`POST /vault/packs`): many blobs for one device as a few objects, each the blobs
//! back to back, with an index (hash, offset, length) in the answer, so that a new device
//! gets a whole vault in a handful of GETs. A request is answered first from the caller's
//! live packs ([`reuse`]: packs built for earlier requests, and bulk uploads' incoming
//! packs kept by their confirm, [`keep`]) whose every blob it asks for; the rest is built
//! on request: the blobs are read from the bucket in parallel (never through API Gateway),
//! checked against their SHA-256, written as one object under `packs/{user}/{pack}` (at
//! most [`MAX_PACK_BYTES`], [`PARALLEL_BUILDS`] packs in memory at a time), and handed out
//! as presigned GETs.
//!
//! Packs are a disposable cache: never counted in quotas or `stored_bytes`, deleted by the
//! janitor after [`PACK_LIFETIME`] (and by the bucket's lifecycle rule on `packs/` if a
//! crash left one), handed out again only while [`reuse::reusable_since`] allows, and never
//! served once one of their blobs was collected: see [`crate::db::packs`] for how the
//! builder, the bulk confirm and the janitor agree.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::db::packs as db;
use crate::domain::{ContentHash, UserId};
use crate::storage::{PRESIGN_TTL, Storage};
use steel_protocol::wire::{Pack, PackedBlob, PacksAnswer};

mod plan;
pub mod reuse;

pub use plan::{Plan, plan};
pub use reuse::{Kept, choose, reusable_since, uncovered};
pub use steel_protocol::wire::{MAX_HASHES_PER_PACKS_REQUEST, MAX_PACK_BYTES};

/// How long a request goes on starting packs: what is not packed by then is answered as
/// `remaining` (API Gateway gives a request 29 s; a pack takes a few).
pub const BUILD_BUDGET: Duration = Duration::from_secs(15);
/// Blobs read from the bucket at once while a pack is built.
pub const READ_CONCURRENCY: usize = 32;
/// Packs built side by side (each at most [`MAX_PACK_BYTES`] in memory, twice: the blobs
/// read and the pack's body): a 10,000-note vault makes two packs, and reading their blobs
/// is most of a new device's wait.
pub const PARALLEL_BUILDS: usize = 2;
/// How long a pack is kept (its URL works for [`PRESIGN_TTL`]; a GET started by then may
/// take the rest).
pub const PACK_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// A pack whose blobs are recorded: from here until [`finish`], a collection of one of
/// them deletes the pack.
#[derive(Debug)]
pub struct Reserved {
    pub pack_id: Uuid,
    /// The planned blobs still there and in use, in pack order.
    pub blobs: Vec<(ContentHash, i64)>,
    /// The planned blobs no longer there or no longer used.
    pub lost: Vec<ContentHash>,
}

/// What became of one planned pack.
#[derive(Debug, Default)]
pub struct Built {
    pub pack: Option<Pack>,
    /// Blobs not in the pack for good (gone, or bytes that do not match their hash).
    pub unpacked: Vec<ContentHash>,
    /// Blobs not in the pack because a collection deleted it while it was built: asked
    /// again, they are packed or found gone.
    pub remaining: Vec<ContentHash>,
}

/// Records a new pack of `planned` (the blobs' rows locked `FOR SHARE` meanwhile).
pub async fn reserve(
    pool: &PgPool,
    user_id: UserId,
    planned: &[(ContentHash, i64)],
) -> Result<Reserved, anyhow::Error> {
    let pack_id = Uuid::new_v4();
    let hashes: Vec<ContentHash> = planned.iter().map(|(h, _)| *h).collect();
    let kept = db::reserve(pool, user_id, pack_id, &hashes).await?;
    let mut reserved = Reserved {
        pack_id,
        blobs: Vec::new(),
        lost: Vec::new(),
    };
    for (hash, _) in planned {
        match kept.get(hash) {
            Some(size) => reserved.blobs.push((*hash, *size)),
            None => reserved.lost.push(*hash),
        }
    }
    Ok(reserved)
}

/// Reads the reserved blobs, writes the pack and hands it out if it is still to be served.
pub async fn finish(
    pool: &PgPool,
    storage: &Storage,
    user_id: UserId,
    reserved: Reserved,
) -> Result<Built, anyhow::Error> {
    let mut built = Built {
        unpacked: reserved.lost,
        ..Built::default()
    };
    let started = Instant::now();
    let mut bytes = read_blobs(storage, user_id, &reserved.blobs).await?;
    let read = started.elapsed();
    let mut body: Vec<u8> = Vec::new();
    let mut index = Vec::new();
    for (hash, size) in &reserved.blobs {
        match bytes.remove(hash) {
            // The bytes are the hash's and the recorded size: packed.
            Some(b) if ContentHash::of(&b) == *hash && i64::try_from(b.len()) == Ok(*size) => {
                index.push(PackedBlob {
                    content_hash: *hash,
                    offset: i64::try_from(body.len())?,
                    length: *size,
                });
                body.extend_from_slice(&b);
            }
            Some(_) => {
                tracing::error!(%user_id, hash = %hash.to_hex(), "blob does not match its hash");
                built.unpacked.push(*hash);
            }
            None => built.unpacked.push(*hash),
        }
    }
    if index.is_empty() {
        db::forget(pool, reserved.pack_id).await?;
        return Ok(built);
    }
    let size_bytes = i64::try_from(body.len())?;
    storage.put_pack(user_id, reserved.pack_id, body).await?;
    tracing::info!(
        %user_id, pack_id = %reserved.pack_id, blobs = index.len(), size_bytes,
        read_ms = read.as_millis(), written_ms = started.elapsed().as_millis(), "pack built"
    );
    if !db::publish(pool, reserved.pack_id, size_bytes, &index).await? {
        // A collection deleted it meanwhile: the object it may not have seen goes too.
        let key = crate::storage::pack_key(user_id, reserved.pack_id);
        storage.delete_keys(&[key]).await?;
        built.remaining.extend(index.iter().map(|b| b.content_hash));
        return Ok(built);
    }
    let url = storage
        .presign_pack(user_id, reserved.pack_id, PRESIGN_TTL)
        .await?;
    built.pack = Some(Pack {
        download_url: url.url,
        expires_at: url.expires_at,
        size_bytes,
        blobs: index,
    });
    Ok(built)
}

/// The bytes of `blobs`, [`READ_CONCURRENCY`] at a time; a blob without an object, or one
/// the bucket fails to hand over (a read error, a checksum the bytes do not match), is left
/// out: it goes `unpacked`, and the device fetches it note by note and says what became of
/// that one note, instead of one bad object failing every packs request of the vault.
async fn read_blobs(
    storage: &Storage,
    user_id: UserId,
    blobs: &[(ContentHash, i64)],
) -> Result<HashMap<ContentHash, Vec<u8>>, anyhow::Error> {
    let permits = Arc::new(Semaphore::new(READ_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for (hash, _) in blobs {
        let (storage, hash, permits) = (storage.clone(), *hash, permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            let bytes = match storage.get_blob(user_id, &hash).await {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::error!(%user_id, hash = %hash.to_hex(), error = %e, "blob unreadable: left unpacked");
                    None
                }
            };
            Ok::<_, anyhow::Error>((hash, bytes))
        });
    }
    let mut out = HashMap::with_capacity(blobs.len());
    while let Some(done) = tasks.join_next().await {
        if let (hash, Some(bytes)) = done?? {
            out.insert(hash, bytes);
        }
    }
    Ok(out)
}

/// The answer to a packs request for `wanted` (parsed, at most
/// [`MAX_HASHES_PER_PACKS_REQUEST`]) at `now`: first the live packs [`choose`] picks among
/// the caller's, then packs of the other blobs built [`PARALLEL_BUILDS`] at a time, in the
/// plan's order, until [`BUILD_BUDGET`] has passed; the rest is `remaining`.
pub async fn answer(
    pool: &PgPool,
    storage: &Storage,
    user_id: UserId,
    wanted: &[ContentHash],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<PacksAnswer, anyhow::Error> {
    let started = Instant::now();
    let found = db::in_use(pool, user_id, wanted).await?;
    let reused = reused(pool, storage, user_id, &found, now).await?;
    let rest = uncovered(wanted, &reused);
    let Plan { packs, unpacked } = plan(&rest, &found, MAX_PACK_BYTES);
    let mut out = PacksAnswer {
        packs: reused,
        unpacked,
        ..PacksAnswer::default()
    };
    for group in packs.chunks(PARALLEL_BUILDS) {
        if started.elapsed() >= BUILD_BUDGET {
            out.remaining
                .extend(group.iter().flatten().map(|(h, _)| *h));
            continue;
        }
        let mut builds = JoinSet::new();
        for (i, planned) in group.iter().cloned().enumerate() {
            let (pool, storage) = (pool.clone(), storage.clone());
            builds.spawn(async move {
                let reserved = reserve(&pool, user_id, &planned).await?;
                let built = finish(&pool, &storage, user_id, reserved).await?;
                Ok::<_, anyhow::Error>((i, built))
            });
        }
        let mut done = Vec::with_capacity(group.len());
        while let Some(joined) = builds.join_next().await {
            done.push(joined??);
        }
        done.sort_by_key(|(i, _)| *i);
        for (_, built) in done {
            out.packs.extend(built.pack);
            out.unpacked.extend(built.unpacked);
            out.remaining.extend(built.remaining);
        }
    }
    Ok(out)
}

/// The caller's live packs to hand out again for the used blobs `found` (see [`choose`]),
/// presigned: only those whose rows are still there once read `FOR SHARE` ([`db::hold`]).
async fn reused(
    pool: &PgPool,
    storage: &Storage,
    user_id: UserId,
    found: &HashMap<ContentHash, i64>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Pack>, anyhow::Error> {
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let hashes: Vec<ContentHash> = found.keys().copied().collect();
    let kept: Vec<Kept<Uuid>> = db::reusable(pool, user_id, &hashes, reusable_since(now))
        .await?
        .into_iter()
        .map(|(id, size_bytes, blobs)| Kept {
            id,
            size_bytes,
            blobs,
        })
        .collect();
    let chosen = choose(&kept, found);
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = chosen.iter().map(|p| p.id).collect();
    let held: HashSet<Uuid> = db::hold(pool, &ids).await?.into_iter().collect();
    let mut out = Vec::with_capacity(held.len());
    for pack in chosen.into_iter().filter(|p| held.contains(&p.id)) {
        let url = storage.presign_pack(user_id, pack.id, PRESIGN_TTL).await?;
        out.push(Pack {
            download_url: url.url,
            expires_at: url.expires_at,
            size_bytes: pack.size_bytes,
            blobs: pack.blobs,
        });
    }
    tracing::info!(%user_id, packs = out.len(), "packs reused");
    Ok(out)
}

/// After a bulk confirm committed: bulk upload `pack_id`'s incoming pack, whose every blob
/// of `index` was checked against its hash and recorded, becomes read pack `pack_id` (the
/// same id under `packs/`): recorded with its index ([`db::reserve_whole`], only if every
/// blob is still there), copied inside the bucket (its bytes never leave S3) and published.
/// Answers whether it was kept; a pack a collection deleted meanwhile goes again.
pub async fn keep(
    pool: &PgPool,
    storage: &Storage,
    user_id: UserId,
    pack_id: Uuid,
    index: &[PackedBlob],
) -> Result<bool, anyhow::Error> {
    let Some(size_bytes) = index.last().map(|b| b.offset.saturating_add(b.length)) else {
        return Ok(false);
    };
    if !db::reserve_whole(pool, user_id, pack_id, index).await? {
        return Ok(false);
    }
    if let Err(err) = storage.copy_incoming_to_pack(user_id, pack_id).await {
        db::forget(pool, pack_id).await?;
        return Err(err);
    }
    if !db::publish(pool, pack_id, size_bytes, index).await? {
        let key = crate::storage::pack_key(user_id, pack_id);
        storage.delete_keys(&[key]).await?;
        return Ok(false);
    }
    Ok(true)
}
