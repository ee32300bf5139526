//! Data layer against a real Postgres: every test gets a fresh database with the embedded
//! migrations applied (`#[sqlx::test]`, `DATABASE_URL` from `scripts/services.sh`).

use std::collections::{BTreeMap, BTreeSet};

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use steel_core::db::{self, DeviceUpdate, FileState, Outcome, devices, files, users, writes};
use steel_core::domain::{
    ContentHash, Cursor, DeviceId, Platform, Provider, PushEnvironment, UserId, VaultPath, Version,
};
use steel_core::vault::rules::{Content, Decision, DeleteDecision, Proposal};

/// A file's outcome in the words of these tests, from a batch's decision and row.
#[derive(Debug, PartialEq)]
enum CommitOutcome {
    Committed(FileState),
    AlreadyCommitted(FileState),
    Conflict { current: Option<FileState> },
    CaseConflict { existing: VaultPath },
    QuotaExceeded,
}

impl From<Outcome<Decision>> for CommitOutcome {
    fn from(o: Outcome<Decision>) -> Self {
        match (o.decision, o.row) {
            (Decision::Write { .. }, Some(row)) => CommitOutcome::Committed(row),
            (Decision::Unchanged, Some(row)) => CommitOutcome::AlreadyCommitted(row),
            (Decision::CaseConflict { existing }, _) => CommitOutcome::CaseConflict { existing },
            (Decision::QuotaExceeded, _) => CommitOutcome::QuotaExceeded,
            (_, current) => CommitOutcome::Conflict { current },
        }
    }
}

#[derive(Debug, PartialEq)]
enum DeleteOutcome {
    Deleted(FileState),
    AlreadyDeleted(FileState),
    Conflict { current: FileState },
    NotFound,
}

impl From<Outcome<DeleteDecision>> for DeleteOutcome {
    fn from(o: Outcome<DeleteDecision>) -> Self {
        match (o.decision, o.row) {
            (DeleteDecision::Tombstone { .. }, Some(row)) => DeleteOutcome::Deleted(row),
            (DeleteDecision::AlreadyDeleted, Some(row)) => DeleteOutcome::AlreadyDeleted(row),
            (DeleteDecision::Conflict, Some(current)) => DeleteOutcome::Conflict { current },
            _ => DeleteOutcome::NotFound,
        }
    }
}

struct NewVersion {
    path: VaultPath,
    base_version: i64,
    content_hash: ContentHash,
    size_bytes: i64,
}

/// One batch commit through the production path; `quota`: none = unlimited.
async fn commit_versions(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    files: &[NewVersion],
    quota: Option<i64>,
) -> Result<(Vec<CommitOutcome>, Cursor), writes::WriteError> {
    let proposals: Vec<Proposal> = files
        .iter()
        .map(|f| Proposal {
            path: f.path.clone(),
            base: Version::new(f.base_version).expect("version"),
            content: Content {
                hash: f.content_hash,
                size: f.size_bytes,
            },
        })
        .collect();
    let quota = quota.map_or(u64::MAX, |q| u64::try_from(q).expect("quota"));
    let batch = writes::commit_versions(pool, user_id, device_id, &proposals, quota).await?;
    Ok((
        batch
            .outcomes
            .into_iter()
            .map(CommitOutcome::from)
            .collect(),
        batch.cursor,
    ))
}

async fn upsert_file_state(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    path: &VaultPath,
    base_version: i64,
    content_hash: &ContentHash,
    size_bytes: i64,
) -> Result<CommitOutcome, writes::WriteError> {
    let file = NewVersion {
        path: path.clone(),
        base_version,
        content_hash: *content_hash,
        size_bytes,
    };
    let (mut outcomes, _) = commit_versions(pool, user_id, device_id, &[file], None).await?;
    Ok(outcomes.remove(0))
}

async fn mark_file_deleted(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    path: &VaultPath,
    base_version: i64,
) -> Result<DeleteOutcome, writes::WriteError> {
    let deletes = [(path.clone(), Version::new(base_version).expect("version"))];
    let batch = writes::delete_files(pool, user_id, device_id, &deletes).await?;
    Ok(batch.outcomes.into_iter().next().expect("outcome").into())
}

fn path(p: &str) -> VaultPath {
    VaultPath::parse(p).expect("valid path")
}

fn hash(content: &str) -> ContentHash {
    ContentHash::of(content.as_bytes())
}

fn phone(token: Option<&str>) -> DeviceUpdate {
    DeviceUpdate {
        device_name: "Anna's iPhone".into(),
        platform: Platform::Ios,
        push_token: token.map(str::to_owned),
        push_environment: PushEnvironment::Production,
    }
}

async fn user(pool: &PgPool, sub: &str) -> UserId {
    users::find_or_create_user(pool, Provider::Apple, sub, None)
        .await
        .expect("user")
        .id
}

async fn columns(pool: &PgPool, table: &str) -> BTreeSet<String> {
    sqlx::query_scalar(
        "SELECT column_name::TEXT FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name = $1",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("columns")
    .into_iter()
    .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn migrations_build_the_expected_schema(pool: PgPool) {
    assert_eq!(
        columns(&pool, "users").await,
        set(&[
            "id",
            "provider",
            "provider_sub",
            "email",
            "vault_size",
            "change_seq",
            "created_at",
            "updated_at"
        ])
    );
    assert_eq!(
        columns(&pool, "devices").await,
        set(&[
            "id",
            "user_id",
            "device_name",
            "platform",
            "push_token",
            "push_environment",
            "push_token_updated_at",
            "created_at",
            "last_seen_at",
            "removed_at",
        ])
    );
    assert_eq!(
        columns(&pool, "file_state").await,
        set(&[
            "user_id",
            "path",
            "path_key",
            "version",
            "content_hash",
            "size_bytes",
            "is_deleted",
            "deleted_at",
            "updated_at",
            "updated_by",
            "change_seq",
        ])
    );
    assert_eq!(
        columns(&pool, "blobs").await,
        set(&["user_id", "content_hash", "size_bytes", "verified_at"])
    );
    assert_eq!(
        columns(&pool, "file_versions").await,
        set(&[
            "user_id",
            "path",
            "version",
            "content_hash",
            "size_bytes",
            "is_deleted",
            "device_id",
            "change_seq",
            "created_at",
        ])
    );
    assert_eq!(
        columns(&pool, "refresh_tokens").await,
        set(&[
            "id",
            "user_id",
            "device_id",
            "family_id",
            "token_hash",
            "created_at",
            "expires_at",
            "used_at",
            "revoked_at",
        ])
    );
    let indexes: BTreeSet<String> =
        sqlx::query_scalar("SELECT indexname::TEXT FROM pg_indexes WHERE schemaname = 'public'")
            .fetch_all(&pool)
            .await
            .expect("indexes")
            .into_iter()
            .collect();
    for expected in [
        "users_pkey",
        "users_provider_sub_key",
        "devices_user_id_idx",
        "devices_user_push_token_key",
        "file_state_pkey",
        "file_state_user_change_seq_key",
        "file_state_user_live_path_key",
        "file_versions_pkey",
        "refresh_tokens_token_hash_key",
        "refresh_tokens_family_idx",
    ] {
        assert!(
            indexes.contains(expected),
            "missing index {expected}: {indexes:?}"
        );
    }
    // Applying again is a no-op, not an error.
    db::migrate(&pool).await.expect("re-run migrations");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn constraints_refuse_bad_rows(pool: PgPool) {
    let u = user(&pool, "constraints").await;
    let bad_hash = sqlx::query(
        "INSERT INTO file_state (user_id, path, version, content_hash, size_bytes, change_seq)
         VALUES ($1, 'a.md', 1, 'NOT-A-HASH', 1, 1)",
    )
    .bind(u)
    .execute(&pool)
    .await;
    assert!(bad_hash.is_err());
    let bad_platform = sqlx::query(
        "INSERT INTO devices (user_id, device_name, platform) VALUES ($1, 'x', 'windows')",
    )
    .bind(u)
    .execute(&pool)
    .await;
    assert!(bad_platform.is_err());
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn find_or_create_user_is_idempotent(pool: PgPool) {
    let first = users::find_or_create_user(
        &pool,
        Provider::Apple,
        "001.abc",
        Some("a@privaterelay.appleid.com"),
    )
    .await
    .expect("create");
    // Apple sends the email only at the first sign-in: a later `None` keeps it.
    let again = users::find_or_create_user(&pool, Provider::Apple, "001.abc", None)
        .await
        .expect("find");
    assert_eq!(first.id, again.id);
    assert_eq!(again.email.as_deref(), Some("a@privaterelay.appleid.com"));
    // Same subject at another provider is another person.
    let google = users::find_or_create_user(&pool, Provider::Google, "001.abc", None)
        .await
        .expect("google");
    assert_ne!(google.id, first.id);
    assert_eq!(
        users::get_user(&pool, first.id).await.expect("get"),
        Some(again)
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn concurrent_first_logins_make_one_user(opts: PgPoolOptions, connect: PgConnectOptions) {
    let pool = opts
        .max_connections(16)
        .connect_with(connect)
        .await
        .expect("pool");
    let mut tasks = Vec::new();
    for i in 0..16 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let email = format!("user{i}@example.com");
            users::find_or_create_user(&pool, Provider::Google, "race-sub", Some(&email))
                .await
                .expect("login")
                .id
        }));
    }
    let mut ids = BTreeSet::new();
    for t in tasks {
        ids.insert(t.await.expect("task"));
    }
    assert_eq!(ids.len(), 1, "one identity, one user");
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE provider_sub = 'race-sub'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(count, 1);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn devices_register_update_and_move_push_tokens(pool: PgPool) {
    let u = user(&pool, "devices").await;
    let other_user = user(&pool, "someone-else").await;
    let a = devices::register_device(&pool, u, &phone(Some("tok-1")))
        .await
        .expect("a");
    assert_eq!(a.push_token.as_deref(), Some("tok-1"));
    assert!(a.push_token_updated_at.is_some());
    let mac = DeviceUpdate {
        device_name: "Mac".into(),
        platform: Platform::Macos,
        push_token: None,
        push_environment: PushEnvironment::Sandbox,
    };
    let b = devices::register_device(&pool, u, &mac).await.expect("b");
    assert_eq!(b.push_token, None);
    assert_eq!(b.push_environment, PushEnvironment::Sandbox);

    // The app was reinstalled on the iPhone as a new device: the token moves to it.
    let c = devices::register_device(&pool, u, &phone(Some("tok-1")))
        .await
        .expect("c");
    let a_now = devices::get_device(&pool, u, a.id)
        .await
        .expect("get")
        .expect("a exists");
    assert_eq!(a_now.push_token, None);
    assert_eq!(c.push_token.as_deref(), Some("tok-1"));

    // Update is idempotent and moves the token back.
    let a2 = devices::update_device(&pool, u, a.id, &phone(Some("tok-1")))
        .await
        .expect("upd")
        .expect("a");
    let a3 = devices::update_device(&pool, u, a.id, &phone(Some("tok-1")))
        .await
        .expect("upd")
        .expect("a");
    assert_eq!(a2.push_token.as_deref(), Some("tok-1"));
    assert_eq!(
        a2.push_token_updated_at, a3.push_token_updated_at,
        "same token: timestamp kept"
    );
    assert!(a3.last_seen_at >= a2.last_seen_at);
    let c_now = devices::get_device(&pool, u, c.id)
        .await
        .expect("get")
        .expect("c");
    assert_eq!(c_now.push_token, None);

    // Another user's device is invisible and can't be updated.
    assert_eq!(
        devices::get_device(&pool, other_user, a.id)
            .await
            .expect("get"),
        None
    );
    assert_eq!(
        devices::update_device(&pool, other_user, a.id, &mac)
            .await
            .expect("upd"),
        None
    );
    // The same token at another user is that user's business.
    devices::register_device(&pool, other_user, &phone(Some("tok-1")))
        .await
        .expect("other");
    let a_still = devices::get_device(&pool, u, a.id)
        .await
        .expect("get")
        .expect("a");
    assert_eq!(a_still.push_token.as_deref(), Some("tok-1"));

    let listed: Vec<DeviceId> = devices::get_user_devices(&pool, u)
        .await
        .expect("list")
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(listed, vec![a.id, b.id, c.id]);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn versions_change_only_through_compare_and_set(pool: PgPool) {
    let u = user(&pool, "cas").await;
    let d = devices::register_device(&pool, u, &phone(None))
        .await
        .expect("device")
        .id;
    let p = path("thoughts/idea.md");

    let v1 = match upsert_file_state(&pool, u, Some(d), &p, 0, &hash("one"), 3)
        .await
        .expect("v1")
    {
        CommitOutcome::Committed(row) => row,
        other => panic!("{other:?}"),
    };
    assert_eq!((v1.version, v1.size_bytes, v1.updated_by), (1, 3, Some(d)));

    // A second "new file" of the same path is a conflict that reports the server row.
    let stale = upsert_file_state(&pool, u, Some(d), &p, 0, &hash("other"), 5)
        .await
        .expect("stale");
    assert_eq!(
        stale,
        CommitOutcome::Conflict {
            current: Some(v1.clone())
        }
    );
    // A base that never existed is a conflict too, not an insert.
    let ghost = upsert_file_state(&pool, u, Some(d), &path("ghost.md"), 3, &hash("g"), 1)
        .await
        .expect("ghost");
    assert_eq!(ghost, CommitOutcome::Conflict { current: None });

    let CommitOutcome::Committed(v2) =
        upsert_file_state(&pool, u, Some(d), &p, 1, &hash("two"), 10)
            .await
            .expect("v2")
    else {
        panic!("v2 must commit")
    };
    assert_eq!(v2.version, 2);
    assert!(v2.change_seq > v1.change_seq);
    assert_eq!(
        users::get_user(&pool, u)
            .await
            .expect("u")
            .expect("u")
            .vault_size,
        10
    );

    // Delete with a stale base is refused; with the current base it writes a tombstone.
    let stale_delete = mark_file_deleted(&pool, u, Some(d), &p, 1)
        .await
        .expect("stale delete");
    assert!(
        matches!(stale_delete, DeleteOutcome::Conflict { current: ref row } if row.version == 2)
    );
    let DeleteOutcome::Deleted(tomb) = mark_file_deleted(&pool, u, Some(d), &p, 2)
        .await
        .expect("delete")
    else {
        panic!("delete must commit")
    };
    assert!(tomb.is_deleted && tomb.deleted_at.is_some());
    assert_eq!((tomb.version, tomb.content_hash), (3, hash("two")));
    assert_eq!(
        users::get_user(&pool, u)
            .await
            .expect("u")
            .expect("u")
            .vault_size,
        0
    );
    // Deleting again is success without a change.
    assert_eq!(
        mark_file_deleted(&pool, u, Some(d), &p, 2)
            .await
            .expect("again"),
        DeleteOutcome::AlreadyDeleted(tomb.clone())
    );

    // A stale device can't resurrect it; the tombstone's version as base revives it.
    let resurrect = upsert_file_state(&pool, u, Some(d), &p, 2, &hash("old edit"), 8)
        .await
        .expect("resurrect");
    assert!(
        matches!(resurrect, CommitOutcome::Conflict { current: Some(ref row) } if row.is_deleted)
    );
    let CommitOutcome::Committed(revived) =
        upsert_file_state(&pool, u, Some(d), &p, 3, &hash("back"), 4)
            .await
            .expect("revive")
    else {
        panic!("revive must commit")
    };
    assert_eq!(
        (revived.version, revived.is_deleted, revived.deleted_at),
        (4, false, None)
    );

    let history: Vec<(i64, String, bool)> = sqlx::query_as(
        "SELECT version, content_hash, is_deleted FROM file_versions WHERE user_id = $1 AND path = $2 ORDER BY version",
    )
    .bind(u)
    .bind(p.as_str())
    .fetch_all(&pool)
    .await
    .expect("history");
    assert_eq!(
        history,
        vec![
            (1, hash("one").to_hex(), false),
            (2, hash("two").to_hex(), false),
            (3, hash("two").to_hex(), true),
            (4, hash("back").to_hex(), false),
        ]
    );
    assert_eq!(
        users::get_user(&pool, u)
            .await
            .expect("u")
            .expect("u")
            .vault_size,
        4
    );
    assert_eq!(
        users::update_vault_size(&pool, u).await.expect("recompute"),
        4
    );
    assert_eq!(
        files::get_file_version(&pool, u, &p).await.expect("get"),
        Some(revived)
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn state_is_paged_in_cursor_order_and_scoped_to_the_user(pool: PgPool) {
    let u = user(&pool, "paging").await;
    let intruder = user(&pool, "intruder").await;
    upsert_file_state(&pool, intruder, None, &path("secret.md"), 0, &hash("s"), 1)
        .await
        .expect("other user");
    for i in 0..25 {
        upsert_file_state(
            &pool,
            u,
            None,
            &path(&format!("n/{i:02}.md")),
            0,
            &hash(&i.to_string()),
            i,
        )
        .await
        .expect("write");
    }
    mark_file_deleted(&pool, u, None, &path("n/03.md"), 1)
        .await
        .expect("delete");

    let mut cursor = Cursor::START;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = files::get_vault_state(&pool, u, cursor, 10)
            .await
            .expect("page");
        pages += 1;
        assert!(page.cursor >= cursor);
        assert!(
            page.files
                .windows(2)
                .all(|w| w[0].change_seq < w[1].change_seq)
        );
        seen.extend(page.files.iter().map(|f| f.path.to_string()));
        cursor = page.cursor;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25, "each path once, at its latest change");
    assert!(!seen.contains(&"secret.md".to_string()));
    // The delete came last, so n/03.md is at the end.
    assert_eq!(seen.last().map(String::as_str), Some("n/03.md"));
    assert_eq!(
        files::current_cursor(&pool, u).await.expect("head"),
        Some(cursor)
    );

    let page = files::get_vault_state(&pool, u, cursor, 10)
        .await
        .expect("empty page");
    assert!(page.files.is_empty() && !page.has_more);
    assert_eq!(page.cursor, cursor, "no change keeps the cursor");

    let tombstones = files::get_deleted_since(&pool, u, Cursor::START)
        .await
        .expect("tombstones");
    assert_eq!(tombstones.len(), 1);
    assert_eq!(tombstones[0].path.as_str(), "n/03.md");
    assert!(
        files::get_deleted_since(&pool, u, cursor)
            .await
            .expect("none")
            .is_empty()
    );
}

/// The property the whole sync rests on: a reader that follows the cursor while writers
/// commit concurrently sees every change. Its union of changes equals the final state.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn cursor_reader_never_misses_a_concurrent_change(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    const WRITERS: u64 = 6;
    const OPS: u64 = 60;
    const PATHS: u64 = 12;
    let pool = opts
        .max_connections(12)
        .connect_with(connect)
        .await
        .expect("pool");
    let u = user(&pool, "cursor").await;

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let pool = pool.clone();
        writers.push(tokio::spawn(async move {
            let mut rng = 0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(w + 1);
            let mut commits = 0;
            for op in 0..OPS {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let p = path(&format!("f{}.md", rng % PATHS));
                let current = files::get_file_version(&pool, u, &p).await.expect("read");
                let base = current.as_ref().map_or(0, |r| r.version);
                let outcome =
                    if rng.is_multiple_of(5) && current.as_ref().is_some_and(|r| !r.is_deleted) {
                        mark_file_deleted(&pool, u, None, &p, base)
                            .await
                            .map(|o| matches!(o, DeleteOutcome::Deleted(_)))
                    } else {
                        let content = format!("writer {w} op {op}");
                        upsert_file_state(
                            &pool,
                            u,
                            None,
                            &p,
                            base,
                            &hash(&content),
                            content.len() as i64,
                        )
                        .await
                        .map(|o| matches!(o, CommitOutcome::Committed(_)))
                    }
                    .expect("write");
                if outcome {
                    commits += 1;
                }
                if op.is_multiple_of(7) {
                    tokio::task::yield_now().await;
                }
            }
            commits
        }));
    }

    let reader = {
        let pool = pool.clone();
        let writers_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = writers_done.clone();
        let handle = tokio::spawn(async move {
            let mut cursor = Cursor::START;
            let mut view: BTreeMap<String, (i64, bool, String)> = BTreeMap::new();
            let mut polls = 0u64;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                // Drain everything visible now, page by page.
                loop {
                    let page = files::get_vault_state(&pool, u, cursor, 5)
                        .await
                        .expect("poll");
                    polls += 1;
                    for f in &page.files {
                        assert!(
                            f.change_seq > cursor.seq(),
                            "a change at or below the cursor came back"
                        );
                        view.insert(
                            f.path.to_string(),
                            (f.version, f.is_deleted, f.content_hash.to_hex()),
                        );
                    }
                    assert!(page.cursor >= cursor, "cursor went backwards");
                    cursor = page.cursor;
                    if !page.has_more {
                        break;
                    }
                }
                if finished {
                    return (view, polls);
                }
                tokio::task::yield_now().await;
            }
        });
        (handle, writers_done)
    };

    let mut commits = 0;
    for w in writers {
        commits += w.await.expect("writer");
    }
    reader.1.store(true, std::sync::atomic::Ordering::SeqCst);
    let (view, polls) = reader.0.await.expect("reader");
    assert!(
        polls > 10,
        "the reader polled while writers ran ({polls} polls)"
    );

    let final_state: BTreeMap<String, (i64, bool, String)> =
        sqlx::query_as::<_, (String, i64, bool, String)>(
            "SELECT path, version, is_deleted, content_hash FROM file_state WHERE user_id = $1",
        )
        .bind(u)
        .fetch_all(&pool)
        .await
        .expect("final")
        .into_iter()
        .map(|(p, v, d, h)| (p, (v, d, h)))
        .collect();
    assert_eq!(view, final_state);

    // Every committed write got its own sequence value and a history row.
    let (seq, versions): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT change_seq FROM users WHERE id = $1), (SELECT count(*) FROM file_versions WHERE user_id = $1)",
    )
    .bind(u)
    .fetch_one(&pool)
    .await
    .expect("counts");
    assert_eq!(seq, commits);
    assert_eq!(versions, commits);
    let size: i64 = users::get_user(&pool, u)
        .await
        .expect("u")
        .expect("u")
        .vault_size;
    assert_eq!(
        size,
        users::update_vault_size(&pool, u).await.expect("recompute")
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn batch_commits_check_each_file_and_the_quota(pool: PgPool) {
    let u = user(&pool, "batch").await;
    let d = devices::register_device(&pool, u, &phone(None))
        .await
        .expect("device")
        .id;
    let nv = |p: &str, base: i64, content: &str, size: i64| NewVersion {
        path: path(p),
        base_version: base,
        content_hash: hash(content),
        size_bytes: size,
    };
    let (first, cursor) = commit_versions(
        &pool,
        u,
        Some(d),
        &[
            nv("a.md", 0, "a", 40),
            nv("B.md", 0, "b", 40),
            nv("c.md", 0, "c", 30),
        ],
        Some(100),
    )
    .await
    .expect("commit");
    assert!(matches!(first[0], CommitOutcome::Committed(ref r) if r.version == 1));
    assert!(matches!(first[1], CommitOutcome::Committed(_)));
    assert_eq!(first[2], CommitOutcome::QuotaExceeded, "40 + 40 + 30 > 100");
    assert_eq!(cursor.seq(), 2, "one sequence value per committed file");

    let (second, _) = commit_versions(
        &pool,
        u,
        Some(d),
        &[
            nv("a.md", 0, "a", 40),    // retried confirm of the first commit
            nv("b.md", 0, "x", 1),     // differs from B.md only by case
            nv("a.md.bak", 3, "y", 1), // base that never existed
            nv("B.md", 1, "b2", 10),   // shrinks: always fits
        ],
        Some(100),
    )
    .await
    .expect("commit");
    assert!(matches!(second[0], CommitOutcome::AlreadyCommitted(ref r) if r.version == 1));
    assert_eq!(
        second[1],
        CommitOutcome::CaseConflict {
            existing: path("B.md")
        }
    );
    assert_eq!(second[2], CommitOutcome::Conflict { current: None });
    assert!(matches!(second[3], CommitOutcome::Committed(ref r) if r.version == 2));
    assert_eq!(
        users::get_user(&pool, u)
            .await
            .expect("u")
            .expect("u")
            .vault_size,
        50
    );
    assert_eq!(
        users::update_vault_size(&pool, u).await.expect("recompute"),
        50
    );
    // Another device confirming the same content from the old base is a conflict, not a retry.
    let other = devices::register_device(&pool, u, &phone(None))
        .await
        .expect("device")
        .id;
    let (third, _) = commit_versions(&pool, u, Some(other), &[nv("a.md", 0, "a", 40)], None)
        .await
        .expect("commit");
    assert!(matches!(
        third[0],
        CommitOutcome::Conflict { current: Some(_) }
    ));
}
