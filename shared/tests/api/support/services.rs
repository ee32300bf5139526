//! The local services the tests run against (started by `scripts/services.sh`, settings in
//! the environment): the configuration the app state reads, SQS queues of each test's own on
//! moto, and what S3 (s3s-fs) holds. Postgres comes per test from `#[sqlx::test]`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use steel_core::Config;
use steel_core::domain::UserId;

/// The HS256 secret of our access tokens in tests.
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// A file of `shared/tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `events/` at the top of the repository: the sample events of every function.
pub fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// Settings from the environment the services script exported, with `overrides` (an empty
/// value unsets a setting).
pub fn config(overrides: &HashMap<String, String>) -> Config {
    Config::from_lookup(|name| {
        overrides
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
            .or_else(|| match name {
                "JWT_SECRET" => Some(JWT_SECRET.into()),
                // Not used: the app state is built around the test's own pool.
                "DATABASE_URL" => Some("postgres://unused@127.0.0.1:1/unused".into()),
                "S3_BUCKET" => Some("steel-vault-local".into()),
                "S3_REGION" => Some("us-east-1".into()),
                _ => None,
            })
    })
    .expect("test config")
}

/// An S3 client for the vault bucket, set up as the functions set theirs up (region and
/// path-style addressing from `config`, endpoint from the environment).
pub fn s3_client(sdk: &aws_config::SdkConfig, config: &Config) -> aws_sdk_s3::Client {
    let s3_config = aws_sdk_s3::config::Builder::from(sdk)
        .region(aws_sdk_s3::config::Region::new(config.s3.region.clone()))
        .force_path_style(config.s3.force_path_style)
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

/// A new SQS queue on moto, named for this test alone so parallel tests never read each
/// other's messages.
pub async fn new_queue(sqs: &aws_sdk_sqs::Client, prefix: &str) -> String {
    sqs.create_queue()
        .queue_name(format!("{prefix}-{}", uuid::Uuid::new_v4()))
        .send()
        .await
        .expect("create queue (is moto running? use scripts/with-services.sh)")
        .queue_url
        .expect("queue url")
}

/// Receives and deletes every message on `queue` right now; their bodies, parsed.
pub async fn drain_queue(sqs: &aws_sdk_sqs::Client, queue: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive");
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        for m in messages {
            out.push(serde_json::from_str(m.body().unwrap_or("null")).expect("message JSON"));
            sqs.delete_message()
                .queue_url(queue)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete message");
        }
    }
}

/// Every key under the user's prefix of `bucket`.
pub async fn user_keys(s3: &aws_sdk_s3::Client, bucket: &str, user_id: UserId) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(format!("{user_id}/"))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        keys.extend(
            page.expect("list objects")
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    keys
}
