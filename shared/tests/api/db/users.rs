//! Users: one per identity, however many logins race to create it.

use std::collections::BTreeSet;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use steel_core::db::users;
use steel_core::domain::Provider;

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn find_or_create_user_finds_the_same_user_and_keeps_the_email(pool: PgPool) {
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
    assert_eq!(
        users::get_user(&pool, first.id).await.expect("get"),
        Some(again)
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_same_subject_at_another_provider_is_another_person(pool: PgPool) {
    let apple = users::find_or_create_user(&pool, Provider::Apple, "001.abc", None)
        .await
        .expect("apple");
    let google = users::find_or_create_user(&pool, Provider::Google, "001.abc", None)
        .await
        .expect("google");
    assert_ne!(google.id, apple.id);
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
