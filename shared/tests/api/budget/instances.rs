//! One account's budget across function instances: two app states, each with a pool of its
//! own (as two Lambda sandboxes have), spending from one account at once.

use chrono::Utc;
use std::sync::Arc;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use steel_core::budget::Clock;

use crate::support::TestApp;

/// An app on a pool of its own to the test's database, with a read budget of 10 that
/// refills once a minute, reading `clock`.
async fn instance(pool: &PgPool, clock: &Clock) -> TestApp {
    let own = PgPoolOptions::new()
        .max_connections(4)
        .connect_with((*pool.connect_options()).clone())
        .await
        .expect("a second pool");
    TestApp::builder(own)
        .setting("READ_BUDGET_BURST", "10")
        .setting("READ_BUDGET_PER_MINUTE", "1")
        .clock(clock.clone())
        .spawn()
        .await
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn two_instances_share_one_accounts_budget(pool: PgPool) {
    // Time stands still: no token comes back during the test.
    let clock = Clock::manual(Utc::now());
    let a = Arc::new(instance(&pool, &clock).await);
    let b = Arc::new(instance(&pool, &clock).await);
    let dev = Arc::new(a.new_user_device("budget-instances").await);
    // 40 reads at once, 20 through each instance.
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..40 {
        let app = Arc::clone(if i % 2 == 0 { &a } else { &b });
        let dev = Arc::clone(&dev);
        sends.spawn(async move { app.state(&*dev, &[]).await });
    }
    let answers = sends.join_all().await;
    let granted = answers.iter().filter(|x| x.status == 200).count();
    let refused: Vec<_> = answers.iter().filter(|x| x.status == 429).collect();
    assert_eq!(
        granted, 10,
        "exactly the budget's size across both instances"
    );
    assert_eq!(refused.len(), 30);
    for r in refused {
        assert_eq!(r.code(), "rate_limited");
        // One token short at one a minute.
        assert_eq!(r.retry_after.as_deref(), Some("60"));
    }
    // Both instances refuse from now on.
    assert_eq!(a.state(&*dev, &[]).await.status, 429);
    assert_eq!(b.state(&*dev, &[]).await.status, 429);
}
