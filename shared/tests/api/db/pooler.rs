//! `DATABASE_PREPARED_STATEMENTS=false`, the setting for a transaction-pooling proxy (RDS
//! Proxy, PgBouncer in transaction mode): the functions' requests create no named
//! (server-side) statement, and send no session settings as startup options.
//!
//! The setting is process-wide once a pool asks for it (`steel_core::db::persistent`), so
//! the test runs itself again in a child process (this binary, this test only): the other
//! tests of the binary keep their named statements.

use std::time::Duration;

use serde_json::json;
use sqlx::{Connection, PgConnection, PgPool, Row};
use steel_core::config::DatabaseConfig;

use crate::support::TestApp;
use crate::support::app::Through;

/// Set for the child: the URL of the parent test's database.
const CHILD: &str = "STEEL_TEST_POOLER_DATABASE";
const CHILD_TEST: &str = "db::pooler::child_requests_through_a_pooler";

/// The named statements the session holds (the simple protocol: this query is none).
async fn named_statements(conn: &mut PgConnection) -> i64 {
    sqlx::raw_sql("SELECT count(*) FROM pg_prepared_statements")
        .fetch_one(conn)
        .await
        .expect("pg_prepared_statements")
        .get(0)
}

fn url_of(db: &PgPool) -> String {
    let opts = db.connect_options();
    format!(
        "postgres://{}@{}:{}/{}?sslmode=disable",
        opts.get_username(),
        opts.get_host(),
        opts.get_port(),
        opts.get_database().expect("test database name"),
    )
}

/// A one-connection pool of the functions to the database at `url`.
fn functions_pool(url: &str, prepared_statements: bool) -> PgPool {
    steel_core::db::connect_lazy(&DatabaseConfig {
        url: url.to_owned(),
        // One connection: every request runs on the session inspected afterwards.
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
        statement_timeout: Duration::from_secs(7),
        idle_in_transaction_timeout: Duration::from_secs(15),
        prepared_statements,
    })
    .expect("pool")
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn requests_create_no_named_statement_through_a_pooler(db: PgPool) {
    {
        // The control, in this process: the default pool names its statements, so the
        // child's count can see a query site that forgets `persistent`.
        let pool = functions_pool(&url_of(&db), true);
        let missing = steel_core::domain::UserId(uuid::Uuid::new_v4());
        steel_core::db::users::get_user(&pool, missing)
            .await
            .expect("get_user");
        let mut conn = pool.acquire().await.expect("connection");
        assert!(named_statements(&mut conn).await >= 1);
        drop(conn);
        pool.close().await;

        let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([CHILD_TEST, "--exact", "--test-threads", "1", "--nocapture"])
            .env(CHILD, url_of(&db))
            .output()
            .expect("running the child test");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "child test failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The child of the test above: a no-op unless it sets [`CHILD`]. (Not `#[sqlx::test]`:
/// its start-up clean-up would try to drop the parent's database.)
#[tokio::test]
async fn child_requests_through_a_pooler() {
    let Ok(url) = std::env::var(CHILD) else {
        return;
    };
    let db = PgPool::connect(&url).await.expect("the parent's database");
    let pool = functions_pool(&url, false);
    assert!(!steel_core::db::persistent());
    let app = TestApp::builder(db.clone())
        .setting("DATABASE_PREPARED_STATEMENTS", "false")
        .through(Through {
            pool: pool.clone(),
            s3_endpoint: std::env::var("AWS_ENDPOINT_URL_S3").expect("AWS_ENDPOINT_URL_S3"),
            sqs_endpoint: std::env::var("AWS_ENDPOINT_URL_SQS").expect("AWS_ENDPOINT_URL_SQS"),
        })
        .spawn()
        .await;
    let dev = app.new_user_device("pooler-user").await;
    // Push → PUT → confirm, twice for one file and once for another, a pull, the state,
    // the account: the write path and the read paths the concurrency bench drives.
    let v1 = app.sync_up(&dev, "notes/a.md", 0, b"one").await;
    app.sync_up(&dev, "notes/a.md", v1, b"one, two").await;
    app.sync_up(&dev, "notes/b.md", 0, b"bee").await;
    for body in [
        json!({"files": [{"path": "notes/a.md", "version": v1}]}),
        json!({"paths": ["notes/a.md", "notes/b.md"]}),
    ] {
        let pulled = app.pull(&dev, body).await;
        assert_eq!(pulled.status, 200, "{:?}", pulled.body);
    }
    assert_eq!(app.state(&dev, &[]).await.status, 200);
    assert_eq!(app.account(&dev).await.status, 200);

    let mut conn = pool.acquire().await.expect("the functions' one connection");
    assert_eq!(
        named_statements(&mut conn).await,
        0,
        "a query of the functions used a named statement"
    );
    // No startup options: the server's (the role's) defaults are in force.
    let timeout: String = sqlx::raw_sql("SHOW statement_timeout")
        .fetch_one(&mut *conn)
        .await
        .expect("SHOW")
        .get(0);
    assert_ne!(timeout, "7s", "the timeout was sent as a startup option");
}

/// `set_role_timeouts` (what `migrate` applies for the pooled functions): a new session of
/// the role starts with them. On a role of its own, so no other test's session changes.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn role_defaults_carry_the_timeouts_through_a_pooler(db: PgPool) {
    let role = format!("steel_pooler_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(&format!("CREATE ROLE {role} LOGIN"))
        .execute(&db)
        .await
        .expect("role");
    let url = url_of(&db).replacen(
        &format!("postgres://{}@", db.connect_options().get_username()),
        &format!("postgres://{role}@"),
        1,
    );
    steel_core::db::set_role_timeouts(&url, Duration::from_millis(6000), Duration::from_secs(15))
        .await
        .expect("ALTER ROLE");
    let mut conn = PgConnection::connect(&url).await.expect("as the role");
    let shown: Vec<String> = sqlx::query_scalar(
        "SELECT current_setting(n) FROM unnest(ARRAY['statement_timeout',
            'idle_in_transaction_session_timeout']) AS n",
    )
    .fetch_all(&mut conn)
    .await
    .expect("settings");
    assert_eq!(shown, ["6s", "15s"]);
    conn.close().await.ok();
    sqlx::raw_sql(&format!("DROP ROLE {role}"))
        .execute(&db)
        .await
        .expect("drop role");
}
