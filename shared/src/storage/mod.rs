//! The vault bucket. Blobs are content-addressed: `{user_id}/blobs/{sha256 hex}`, so the bytes
//! at a key always match their hash, identical content is stored once, and every committed
//! version stays readable. Devices move bytes through presigned URLs; the API never does.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::ChecksumMode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::{ContentHash, UserId};
use crate::error::Transient;

mod keys;

pub use keys::{
    INCOMING_PREFIX, PACK_PREFIX, blob_key, incoming_grant_key, incoming_key, pack_key,
    parse_blob_key,
};

/// How long a presigned URL works.
pub const PRESIGN_TTL: Duration = Duration::from_secs(300);

/// A request the device makes itself: method, URL and the exact headers to send (they are
/// part of the signature: the checksum and length bind the upload to its hash).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PresignedRequest {
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// What the bucket holds under a blob's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobCheck {
    /// Bytes whose SHA-256 is the key's hash, `size` of them.
    Valid {
        size: i64,
    },
    Missing,
    /// Present but not the bytes the key names.
    Mismatch,
}

#[derive(Clone)]
pub struct Storage {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl Storage {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Storage {
            client,
            bucket: bucket.into(),
        }
    }

    fn presigning(ttl: Duration) -> Result<PresigningConfig, anyhow::Error> {
        Ok(PresigningConfig::expires_in(ttl)?)
    }

    fn into_request(
        req: aws_sdk_s3::presigning::PresignedRequest,
        ttl: Duration,
    ) -> PresignedRequest {
        PresignedRequest {
            method: req.method().to_owned(),
            url: req.uri().to_owned(),
            headers: req
                .headers()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
                .collect(),
            expires_at: Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default(),
        }
    }

    /// A PUT that only accepts exactly `size` bytes hashing to `hash`.
    pub async fn presign_upload(
        &self,
        user_id: UserId,
        hash: &ContentHash,
        size: i64,
        ttl: Duration,
    ) -> Result<PresignedRequest, anyhow::Error> {
        self.presign_put(blob_key(user_id, hash), hash, size, ttl)
            .await
    }

    pub async fn presign_download(
        &self,
        user_id: UserId,
        hash: &ContentHash,
        ttl: Duration,
    ) -> Result<PresignedRequest, anyhow::Error> {
        self.presign_get(blob_key(user_id, hash), ttl).await
    }

    /// A presigned GET of the object under `key`.
    /// A presigned PUT of `key` that S3 accepts only with exactly `size` bytes hashing to
    /// `hash` (both are signed).
    async fn presign_put(
        &self,
        key: String,
        hash: &ContentHash,
        size: i64,
        ttl: Duration,
    ) -> Result<PresignedRequest, anyhow::Error> {
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .checksum_sha256(hash.to_base64())
            .content_length(size)
            .presigned(Self::presigning(ttl)?)
            .await?;
        Ok(Self::into_request(req, ttl))
    }

    async fn presign_get(
        &self,
        key: String,
        ttl: Duration,
    ) -> Result<PresignedRequest, anyhow::Error> {
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(Self::presigning(ttl)?)
            .await?;
        Ok(Self::into_request(req, ttl))
    }

    /// A blob's bytes, `None` when there is no object under its key.
    pub async fn get_blob(
        &self,
        user_id: UserId,
        hash: &ContentHash,
    ) -> Result<Option<Vec<u8>>, anyhow::Error> {
        self.get_object(&blob_key(user_id, hash)).await
    }

    /// An incoming pack's bytes, `None` when it was never uploaded (or is gone).
    pub async fn get_incoming(
        &self,
        user_id: UserId,
        pack_id: uuid::Uuid,
    ) -> Result<Option<Vec<u8>>, anyhow::Error> {
        self.get_object(&incoming_key(user_id, pack_id)).await
    }

    /// The bytes under `key`, `None` when there is no object.
    async fn get_object(&self, key: &str) -> Result<Option<Vec<u8>>, anyhow::Error> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let object = match object {
            Ok(o) => o,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None);
            }
            Err(err) => return Err(sdk_failure(err, format!("GetObject {key}"))),
        };
        let bytes = object.body.collect().await.map_err(|e| {
            anyhow::Error::new(Transient(e.into())).context(format!("reading {key}"))
        })?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    /// A PUT of an incoming pack that only accepts exactly `size` bytes hashing to `hash`.
    pub async fn presign_incoming(
        &self,
        user_id: UserId,
        pack_id: uuid::Uuid,
        hash: &ContentHash,
        size: i64,
        ttl: Duration,
    ) -> Result<PresignedRequest, anyhow::Error> {
        self.presign_put(incoming_key(user_id, pack_id), hash, size, ttl)
            .await
    }

    /// Writes a blob at its key, `bytes` being checked against `hash` by the caller first
    /// (S3 checks them again: the SHA-256 goes with the PUT).
    pub async fn put_blob(
        &self,
        user_id: UserId,
        hash: &ContentHash,
        bytes: Vec<u8>,
    ) -> Result<(), anyhow::Error> {
        let key = blob_key(user_id, hash);
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .checksum_sha256(hash.to_base64())
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| sdk_failure(e, format!("PutObject {key}")))?;
        Ok(())
    }

    /// Writes a pack object (with its SHA-256, which S3 checks on the way in).
    pub async fn put_pack(
        &self,
        user_id: UserId,
        pack_id: uuid::Uuid,
        body: Vec<u8>,
    ) -> Result<(), anyhow::Error> {
        let key = pack_key(user_id, pack_id);
        let checksum = ContentHash::of(&body).to_base64();
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .checksum_sha256(checksum)
            .body(body.into())
            .send()
            .await
            .map_err(|e| sdk_failure(e, format!("PutObject {key}")))?;
        Ok(())
    }

    /// Copies incoming pack `pack_id` to the pack key of the same id, inside the bucket
    /// (`CopyObject`: its bytes never pass through the function).
    pub async fn copy_incoming_to_pack(
        &self,
        user_id: UserId,
        pack_id: uuid::Uuid,
    ) -> Result<(), anyhow::Error> {
        let key = pack_key(user_id, pack_id);
        // Both keys are made of UUIDs and slashes: nothing to percent-encode.
        let source = format!("{}/{}", self.bucket, incoming_key(user_id, pack_id));
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .key(&key)
            .copy_source(source)
            .send()
            .await
            .map_err(|e| sdk_failure(e, format!("CopyObject {key}")))?;
        Ok(())
    }

    /// A GET of a pack object (a `Range` header may be added: it is not signed).
    pub async fn presign_pack(
        &self,
        user_id: UserId,
        pack_id: uuid::Uuid,
        ttl: Duration,
    ) -> Result<PresignedRequest, anyhow::Error> {
        self.presign_get(pack_key(user_id, pack_id), ttl).await
    }

    /// Checks the object under the blob's key against its SHA-256 and reports its size (a
    /// hash names one byte string, so one size; each file that claims the hash is compared
    /// with it on its own). The SHA-256 is the one S3 keeps with the object (HeadObject in
    /// checksum mode); a store that keeps none has the bytes read and hashed instead.
    pub async fn check_blob(
        &self,
        user_id: UserId,
        hash: &ContentHash,
    ) -> Result<BlobCheck, anyhow::Error> {
        let key = blob_key(user_id, hash);
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await;
        let head = match head {
            Ok(head) => head,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {
                return Ok(BlobCheck::Missing);
            }
            Err(err) => return Err(sdk_failure(err, format!("HeadObject {key}"))),
        };
        let Some(size) = head.content_length() else {
            return Ok(BlobCheck::Mismatch);
        };
        match head.checksum_sha256() {
            Some(stored) if ContentHash::from_base64(stored) == Some(*hash) => {
                Ok(BlobCheck::Valid { size })
            }
            Some(_) => Ok(BlobCheck::Mismatch),
            None => self.hash_object(&key, hash).await,
        }
    }

    async fn hash_object(&self, key: &str, hash: &ContentHash) -> Result<BlobCheck, anyhow::Error> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let mut body = match object {
            Ok(o) => o.body,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(BlobCheck::Missing);
            }
            Err(err) => return Err(sdk_failure(err, format!("GetObject {key}"))),
        };
        let mut hasher = Sha256::new();
        let mut size: i64 = 0;
        while let Some(chunk) = body.try_next().await.map_err(|e| {
            anyhow::Error::new(Transient(e.into())).context(format!("reading {key}"))
        })? {
            hasher.update(&chunk);
            size = size.saturating_add(i64::try_from(chunk.len()).unwrap_or(i64::MAX));
        }
        let actual = ContentHash::of_digest(hasher.finalize().into());
        Ok(if actual == *hash {
            BlobCheck::Valid { size }
        } else {
            BlobCheck::Mismatch
        })
    }

    /// One page of the bucket (or of the keys under `prefix`) in key order after
    /// `start_after`: each key with its last-modified time, and whether more follow.
    pub async fn list_page(
        &self,
        prefix: Option<&str>,
        start_after: Option<&str>,
        page_size: i32,
    ) -> Result<(Vec<(String, DateTime<Utc>)>, bool), anyhow::Error> {
        let page = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .set_prefix(prefix.map(str::to_owned))
            .set_start_after(start_after.map(str::to_owned))
            .max_keys(page_size)
            .send()
            .await
            .map_err(|e| sdk_failure(e, "ListObjectsV2".into()))?;
        let objects = page
            .contents()
            .iter()
            .filter_map(|o| {
                let modified = o.last_modified()?;
                let at = DateTime::from_timestamp(modified.secs(), modified.subsec_nanos())?;
                Some((o.key()?.to_owned(), at))
            })
            .collect();
        Ok((objects, page.is_truncated().unwrap_or(false)))
    }

    /// Deletes these keys (at most 1,000, S3's maximum per request).
    pub async fn delete_keys(&self, keys: &[String]) -> Result<(), anyhow::Error> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        if keys.is_empty() {
            return Ok(());
        }
        let objects: Vec<ObjectIdentifier> = keys
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<_, _>>()?;
        let out = self
            .client
            .delete_objects()
            .bucket(&self.bucket)
            .delete(
                Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()?,
            )
            .send()
            .await
            .map_err(|e| sdk_failure(e, "DeleteObjects".into()))?;
        if let Some(err) = out.errors().first() {
            anyhow::bail!("DeleteObjects: {:?} {:?}", err.key(), err.message());
        }
        Ok(())
    }

    /// Deletes the objects under the user's prefix, then under the user's pack and incoming
    /// pack prefixes, `page_size` keys per request, for at most `max_pages` pages each.
    /// Returns (objects deleted, whether all three prefixes are now empty). Idempotent and
    /// resumable: every call starts over from what is left.
    pub async fn purge_user(
        &self,
        user_id: UserId,
        page_size: i32,
        max_pages: usize,
    ) -> Result<(u64, bool), anyhow::Error> {
        let (blobs, blobs_done) = self
            .purge_prefix(&format!("{user_id}/"), page_size, max_pages)
            .await?;
        let packs = format!("{PACK_PREFIX}{user_id}/");
        let (packs, packs_done) = self.purge_prefix(&packs, page_size, max_pages).await?;
        let incoming = format!("{INCOMING_PREFIX}{user_id}/");
        let (incoming, incoming_done) = self.purge_prefix(&incoming, page_size, max_pages).await?;
        Ok((
            blobs + packs + incoming,
            blobs_done && packs_done && incoming_done,
        ))
    }

    async fn purge_prefix(
        &self,
        prefix: &str,
        page_size: i32,
        max_pages: usize,
    ) -> Result<(u64, bool), anyhow::Error> {
        let mut deleted = 0u64;
        for _ in 0..max_pages {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .max_keys(page_size)
                .send()
                .await
                .map_err(|e| sdk_failure(e, "ListObjectsV2".into()))?;
            let keys: Vec<String> = page
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect();
            if keys.is_empty() {
                return Ok((deleted, true));
            }
            self.delete_keys(&keys).await?;
            deleted += keys.len() as u64;
        }
        let left = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| sdk_failure(e, "ListObjectsV2".into()))?;
        Ok((deleted, left.contents().is_empty()))
    }
}

/// An S3 call's failure, marked [`Transient`] when a retry may not meet it: no answer
/// (timeout, connection), an unreadable answer, or a 5xx (500, 503 SlowDown).
fn sdk_failure<E>(
    err: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    what: String,
) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    use aws_sdk_s3::error::SdkError;
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(e) => e.raw().status().is_server_error(),
        _ => false,
    };
    let err = anyhow::Error::new(err);
    if transient {
        anyhow::Error::new(Transient(err)).context(what)
    } else {
        err.context(what)
    }
}
