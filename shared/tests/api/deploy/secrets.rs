//! Secrets read at cold start (`steel_core::secrets`) against moto's Secrets Manager (the
//! services script's moto, which serves SQS too): the values become the settings `Config`
//! reads, and the database URL built from RDS's secret shape really connects.

use std::collections::HashMap;

use serde_json::json;
use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;
use steel_core::secrets::{self, SecretSource, SecretsManager};

use crate::support::services::JWT_SECRET;

/// A Secrets Manager client on moto (its endpoint is the SQS one: one moto, all services).
async fn moto() -> SecretsManager {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let endpoint = std::env::var("AWS_ENDPOINT_URL_SQS")
        .expect("AWS_ENDPOINT_URL_SQS (run under scripts/with-services.sh)");
    let config = aws_sdk_secretsmanager::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .build();
    SecretsManager(aws_sdk_secretsmanager::Client::from_conf(config))
}

async fn create(sm: &SecretsManager, value: &str) -> String {
    sm.0.create_secret()
        .name(format!("steel-test-{}", uuid::Uuid::new_v4()))
        .secret_string(value)
        .send()
        .await
        .expect("create secret on moto")
        .arn
        .expect("arn")
}

/// The test database's settings, as RDS would store them in its secret.
fn database_secret() -> serde_json::Value {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let opts: PgConnectOptions = url.parse().expect("DATABASE_URL parses");
    json!({
        "engine": "postgres",
        "username": opts.get_username(),
        // The local cluster trusts loopback: any password passes, so one that needs
        // escaping in a URL proves the escaping without failing the login.
        "password": "p@ss:w/rd?#%",
        "host": opts.get_host(),
        "port": opts.get_port(),
        "dbname": opts.get_database().unwrap_or("postgres"),
    })
}

#[tokio::test]
async fn secret_arns_become_the_settings_and_the_database_url_connects() {
    let sm = moto().await;
    let jwt_arn = create(&sm, JWT_SECRET).await;
    let db_arn = create(&sm, &database_secret().to_string()).await;
    let env: HashMap<&str, String> = HashMap::from([
        ("JWT_SECRET_ARN", jwt_arn),
        ("DATABASE_SECRET_ARN", db_arn),
        ("DATABASE_SSLMODE", "disable".to_owned()),
        ("S3_BUCKET", "steel-vault-local".to_owned()),
        ("S3_REGION", "us-east-1".to_owned()),
    ]);
    let lookup = |name: &str| env.get(name).cloned();
    let resolved = secrets::resolve(&lookup, &sm).await.expect("resolved");
    assert_eq!(resolved["JWT_SECRET"], JWT_SECRET);
    let url = &resolved["DATABASE_URL"];
    assert!(url.contains("p%40ss%3Aw%2Frd%3F%23%25@"), "{url}");

    // The same Config the functions build: no handler sees the difference.
    let config = steel_core::Config::from_lookup(|name| {
        resolved.get(name).cloned().or_else(|| lookup(name))
    })
    .expect("config");
    assert_eq!(config.tokens.jwt_secret.expose(), JWT_SECRET);
    let mut conn = url
        .parse::<PgConnectOptions>()
        .expect("url parses")
        .connect()
        .await
        .expect("the built URL connects");
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(one, 1);
}

#[tokio::test]
async fn a_missing_or_malformed_secret_fails_naming_the_variable() {
    let sm = moto().await;
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf";
    let lookup = |name: &str| (name == "JWT_SECRET_ARN").then(|| missing.to_owned());
    let err = secrets::resolve(&lookup, &sm).await.unwrap_err();
    assert!(err.to_string().starts_with("JWT_SECRET_ARN:"), "{err:#}");

    let not_json = create(&sm, "postgres://not-json").await;
    let lookup = |name: &str| (name == "DATABASE_SECRET_ARN").then(|| not_json.clone());
    let err = secrets::resolve(&lookup, &sm).await.unwrap_err();
    assert!(err.to_string().contains("DATABASE_SECRET_ARN"), "{err:#}");
}

/// Fails the test if anything is fetched.
struct Nothing;

impl SecretSource for Nothing {
    async fn get(&self, arn: &str) -> anyhow::Result<String> {
        panic!("fetched {arn} though no ARN is set")
    }
}

#[tokio::test]
async fn without_arns_nothing_is_fetched_and_plain_settings_stay() {
    let lookup = |name: &str| (name == "JWT_SECRET").then(|| JWT_SECRET.to_owned());
    assert!(!secrets::any_secret_arn(&lookup));
    let resolved = secrets::resolve(&lookup, &Nothing).await.unwrap();
    assert!(resolved.is_empty());
}
