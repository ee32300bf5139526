//! Devices: registration, updates, and push tokens that move with an app install.

use sqlx::PgPool;
use steel_core::db::devices::Device;
use steel_core::db::{DeviceUpdate, devices};
use steel_core::domain::{DeviceId, Platform, PushEnvironment, UserId};

use super::phone;
use crate::support::{oracle, seed};

fn mac() -> DeviceUpdate {
    DeviceUpdate {
        device_name: "Mac".into(),
        platform: Platform::Macos,
        push_token: None,
        push_environment: PushEnvironment::Sandbox,
    }
}

async fn register(pool: &PgPool, user: UserId, device: &DeviceUpdate) -> Device {
    devices::register_device(pool, user, device)
        .await
        .expect("register")
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_registered_device_keeps_its_push_token_and_environment(pool: PgPool) {
    let u = seed::user(&pool, "devices").await;

    let a = register(&pool, u, &phone(Some("tok-1"))).await;
    assert_eq!(a.push_token.as_deref(), Some("tok-1"));
    assert!(a.push_token_updated_at.is_some());
    let b = register(&pool, u, &mac()).await;
    assert_eq!(b.push_token, None);
    assert_eq!(b.push_environment, PushEnvironment::Sandbox);
}

/// The app was reinstalled on the iPhone as a new device: the token moves to it.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_push_token_moves_to_the_new_device_that_registers_it(pool: PgPool) {
    let u = seed::user(&pool, "devices").await;
    let a = register(&pool, u, &phone(Some("tok-1"))).await;

    let c = register(&pool, u, &phone(Some("tok-1"))).await;
    let a_now = oracle::device(&pool, u, a.id).await.expect("a exists");
    assert_eq!(a_now.push_token, None);
    assert_eq!(c.push_token.as_deref(), Some("tok-1"));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn an_update_is_idempotent_and_takes_the_token_back(pool: PgPool) {
    let u = seed::user(&pool, "devices").await;
    let a = register(&pool, u, &phone(Some("tok-1"))).await;
    let c = register(&pool, u, &phone(Some("tok-1"))).await;

    let update = || async {
        devices::update_device(&pool, u, a.id, &phone(Some("tok-1")))
            .await
            .expect("upd")
            .expect("a")
    };
    let a2 = update().await;
    let a3 = update().await;
    assert_eq!(a2.push_token.as_deref(), Some("tok-1"));
    assert_eq!(
        a2.push_token_updated_at, a3.push_token_updated_at,
        "same token: timestamp kept"
    );
    assert!(a3.last_seen_at >= a2.last_seen_at);
    let c_now = oracle::device(&pool, u, c.id).await.expect("c");
    assert_eq!(c_now.push_token, None);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn another_users_device_is_invisible_and_cannot_be_updated(pool: PgPool) {
    let u = seed::user(&pool, "devices").await;
    let other_user = seed::user(&pool, "someone-else").await;
    let a = register(&pool, u, &phone(Some("tok-1"))).await;

    assert_eq!(oracle::device(&pool, other_user, a.id).await, None);
    assert!(
        devices::get_user_devices(&pool, other_user)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        devices::update_device(&pool, other_user, a.id, &mac())
            .await
            .expect("upd"),
        None
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_same_push_token_at_another_user_stays_where_it_is(pool: PgPool) {
    let u = seed::user(&pool, "devices").await;
    let other_user = seed::user(&pool, "someone-else").await;
    let a = register(&pool, u, &phone(Some("tok-1"))).await;

    register(&pool, other_user, &phone(Some("tok-1"))).await;
    let a_still = oracle::device(&pool, u, a.id).await.expect("a");
    assert_eq!(a_still.push_token.as_deref(), Some("tok-1"));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_users_devices_are_listed_oldest_first(pool: PgPool) {
    let u = seed::user(&pool, "devices").await;
    let a = register(&pool, u, &phone(Some("tok-1"))).await;
    let b = register(&pool, u, &mac()).await;
    let c = register(&pool, u, &phone(Some("tok-1"))).await;

    let listed: Vec<DeviceId> = devices::get_user_devices(&pool, u)
        .await
        .expect("list")
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(listed, vec![a.id, b.id, c.id]);
}
