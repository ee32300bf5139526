//! `steel_core::deploy::handle` against a real, empty Postgres database per test and a local
//! stand-in for the response URL: Create, Update, Delete, a failing migration, a panic, a
//! repeated event. Every case checks the answer that was PUT, not only the return value.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::db;
use steel_core::deploy::{self, PHYSICAL_RESOURCE_ID};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BUDGET: Duration = Duration::from_secs(60);

/// The stand-in for CloudFormation's pre-signed S3 URL: accepts PUTs and keeps them.
async fn response_url() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/cfn-response"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

fn event(server: &MockServer, kind: &str, request_id: &str) -> Value {
    json!({
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:migrate",
        "ResponseURL": format!("{}/cfn-response?X-Amz-Signature=abc", server.uri()),
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/steel/1",
        "RequestId": request_id,
        "ResourceType": "Custom::SchemaMigrations",
        "LogicalResourceId": "SchemaMigrations",
        "PhysicalResourceId": PHYSICAL_RESOURCE_ID,
        "ResourceProperties": {"ServiceToken": "x", "Version": "1"}
    })
}

/// The answers PUT so far, parsed, after checking each was sent without a content type
/// (the URL is signed without one).
async fn answers(server: &MockServer) -> Vec<Value> {
    let requests = server.received_requests().await.expect("recording");
    requests
        .iter()
        .map(|r| {
            let ct = r.headers.get("content-type").map(|v| v.as_bytes().to_vec());
            assert!(
                matches!(ct.as_deref(), None | Some(b"")),
                "content type {ct:?}"
            );
            serde_json::from_slice(&r.body).expect("answer is JSON")
        })
        .collect()
}

async fn applied(pool: &PgPool) -> i64 {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
            .fetch_one(pool)
            .await
            .expect("regclass");
    if !exists {
        return 0;
    }
    sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .expect("count")
}

fn migrate_on(pool: &PgPool) -> impl FnOnce() -> futures_migrate::Fut {
    let pool = pool.clone();
    move || Box::pin(async move { Ok(db::migrate_for_deploy(&pool).await?) })
}

mod futures_migrate {
    pub type Fut =
        std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<usize>> + Send>>;
}

#[sqlx::test(migrations = false)]
async fn create_migrates_an_empty_database_and_answers_success(pool: PgPool) {
    let cfn = response_url().await;
    let out = deploy::handle(event(&cfn, "Create", "r1"), migrate_on(&pool), BUDGET)
        .await
        .expect("handled");
    let got = answers(&cfn).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0], out);
    assert_eq!(got[0]["Status"], "SUCCESS");
    assert_eq!(got[0]["PhysicalResourceId"], PHYSICAL_RESOURCE_ID);
    assert_eq!(got[0]["RequestId"], "r1");
    assert_eq!(got[0]["LogicalResourceId"], "SchemaMigrations");
    let n = db::MIGRATOR.iter().count();
    assert_eq!(got[0]["Data"]["Migrations"], n);
    assert_eq!(applied(&pool).await, n as i64);
}

#[sqlx::test(migrations = false)]
async fn update_and_a_repeated_event_migrate_again_as_a_no_op(pool: PgPool) {
    let cfn = response_url().await;
    for (kind, id) in [("Create", "r1"), ("Update", "r2"), ("Update", "r2")] {
        deploy::handle(event(&cfn, kind, id), migrate_on(&pool), BUDGET)
            .await
            .expect("handled");
    }
    let got = answers(&cfn).await;
    assert_eq!(got.len(), 3);
    for answer in &got {
        assert_eq!(answer["Status"], "SUCCESS", "{answer}");
        // The same physical id every time: CloudFormation never sees a replacement.
        assert_eq!(answer["PhysicalResourceId"], PHYSICAL_RESOURCE_ID);
    }
    assert_eq!(got[1], got[2], "a repeated event gets the same answer");
    assert_eq!(applied(&pool).await, db::MIGRATOR.iter().count() as i64);
}

#[sqlx::test(migrations = false)]
async fn a_rollback_to_a_release_without_the_newest_migration_still_succeeds(pool: PgPool) {
    let cfn = response_url().await;
    deploy::handle(event(&cfn, "Create", "r1"), migrate_on(&pool), BUDGET)
        .await
        .expect("create");
    // A newer release applied a migration this one does not know.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99999999999999, 'from a newer release', true, '\\x00', 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    deploy::handle(event(&cfn, "Update", "r2"), migrate_on(&pool), BUDGET)
        .await
        .expect("update");
    let got = answers(&cfn).await;
    assert_eq!(got[1]["Status"], "SUCCESS", "{}", got[1]);
    // The strict migrator (tests, `make migrate` before this change) would have refused.
    assert!(db::MIGRATOR.run(&pool).await.is_err());
}

#[sqlx::test(migrations = false)]
async fn delete_answers_success_and_leaves_the_schema(pool: PgPool) {
    let cfn = response_url().await;
    deploy::handle(event(&cfn, "Create", "r1"), migrate_on(&pool), BUDGET)
        .await
        .expect("create");
    let tables_before: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let never = || -> futures_migrate::Fut { panic!("Delete must not migrate") };
    deploy::handle(event(&cfn, "Delete", "r2"), never, BUDGET)
        .await
        .expect("delete");
    let got = answers(&cfn).await;
    assert_eq!(got[1]["Status"], "SUCCESS");
    assert_eq!(got[1]["PhysicalResourceId"], PHYSICAL_RESOURCE_ID);
    let tables_after: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(tables_after, tables_before);
    assert_eq!(applied(&pool).await, db::MIGRATOR.iter().count() as i64);
}

#[sqlx::test(migrations = false)]
async fn a_failing_migration_answers_failed_with_the_reason(pool: PgPool) {
    // A table in the way of the first migration: Postgres refuses to create it again.
    sqlx::query("CREATE TABLE users (in_the_way INT)")
        .execute(&pool)
        .await
        .unwrap();
    let cfn = response_url().await;
    let out = deploy::handle(event(&cfn, "Update", "r1"), migrate_on(&pool), BUDGET)
        .await
        .expect("the answer is sent even when migrating fails");
    let got = answers(&cfn).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0], out);
    assert_eq!(got[0]["Status"], "FAILED");
    let reason = got[0]["Reason"].as_str().unwrap();
    assert!(reason.contains("already exists"), "{reason}");
    assert_eq!(got[0]["PhysicalResourceId"], PHYSICAL_RESOURCE_ID);
}

#[tokio::test]
async fn a_panic_or_an_overrun_answers_failed_and_does_not_hang() {
    let cfn = response_url().await;
    let panics = || -> futures_migrate::Fut { Box::pin(async { panic!("boom") }) };
    deploy::handle(event(&cfn, "Create", "r1"), panics, BUDGET)
        .await
        .expect("handled");
    let slow = || -> futures_migrate::Fut {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            Ok(0)
        })
    };
    let started = std::time::Instant::now();
    deploy::handle(
        event(&cfn, "Update", "r2"),
        slow,
        Duration::from_millis(200),
    )
    .await
    .expect("handled");
    assert!(started.elapsed() < Duration::from_secs(5));
    let got = answers(&cfn).await;
    assert_eq!(got[0]["Status"], "FAILED");
    assert!(got[0]["Reason"].as_str().unwrap().contains("panicked"));
    assert_eq!(got[1]["Status"], "FAILED");
    assert!(
        got[1]["Reason"]
            .as_str()
            .unwrap()
            .contains("did not finish")
    );
}

#[tokio::test]
async fn a_malformed_request_is_still_answered() {
    let cfn = response_url().await;
    let mut bad = event(&cfn, "Create", "r1");
    bad["RequestType"] = json!("Replace");
    let never = || -> futures_migrate::Fut { panic!("must not migrate") };
    deploy::handle(bad, never, BUDGET).await.expect("handled");
    let got = answers(&cfn).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["Status"], "FAILED");
    assert_eq!(got[0]["RequestId"], "r1");
}

#[tokio::test]
async fn an_unreachable_response_url_is_an_error_not_a_hang() {
    let never = || -> futures_migrate::Fut { panic!("must not migrate") };
    let mut e = json!({"RequestType": "Delete", "StackId": "s", "RequestId": "r",
        "LogicalResourceId": "SchemaMigrations"});
    e["ResponseURL"] = json!("http://127.0.0.1:1/cfn-response");
    let err = deploy::handle(e, never, BUDGET).await.unwrap_err();
    assert!(err.to_string().contains("could not send"), "{err}");
}
