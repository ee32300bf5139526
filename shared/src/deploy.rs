//! `migrate` as a CloudFormation custom resource: the stack runs the migrations on every
//! deploy, before the functions' new code is published (see `template.yaml`,
//! `SchemaMigrations`).
//!
//! CloudFormation waits for an answer PUT to the event's pre-signed `ResponseURL`; a handler
//! that never answers leaves the stack hanging for an hour. So every path answers: a failed
//! migration, an event that does not parse, a migration that panics or outlives its time
//! budget all send `FAILED` with the reason. Delete answers `SUCCESS` without touching the
//! schema (data outlives a stack; the database has its own deletion policy). Create and
//! Update both migrate, and the physical id never changes, so an Update never makes
//! CloudFormation delete the "old" resource; a repeated event migrates again, which is a no-op
//! on an up-to-date schema, and answers the same.
//!
//! Invoked directly (no `ResponseURL` in the event), it migrates and returns the result, as
//! before: `aws lambda invoke` by hand still works.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The one physical id of the schema: stable, so an Update is never a replacement.
pub const PHYSICAL_RESOURCE_ID: &str = "steel-schema-migrations";

/// CloudFormation rejects a response body over 4,096 bytes; the reason is cut well below.
const MAX_REASON_BYTES: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

/// The fields of a custom resource request this handler uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceRequest {
    pub request_type: RequestType,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
}

/// What a request asks of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Migrate,
    /// Delete: the schema and its data stay.
    LeaveSchema,
}

pub fn action(request: RequestType) -> Action {
    match request {
        RequestType::Create | RequestType::Update => Action::Migrate,
        RequestType::Delete => Action::LeaveSchema,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Success,
    Failed,
}

/// The body PUT to the response URL.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceResponse {
    pub status: Status,
    pub reason: String,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub data: Value,
}

/// The answer to `request`, given how its action went (`Ok(migrations known)` or the error).
pub fn response(
    request: &CustomResourceRequest,
    outcome: Result<Option<usize>, String>,
) -> CustomResourceResponse {
    let (status, reason, data) = match outcome {
        Ok(Some(n)) => (
            Status::Success,
            format!("schema up to date ({n} migrations)"),
            json!({"Migrations": n}),
        ),
        Ok(None) => (
            Status::Success,
            "schema left in place".to_owned(),
            json!({}),
        ),
        Err(reason) => (Status::Failed, truncate(&reason), json!({})),
    };
    CustomResourceResponse {
        status,
        reason,
        physical_resource_id: PHYSICAL_RESOURCE_ID.to_owned(),
        stack_id: request.stack_id.clone(),
        request_id: request.request_id.clone(),
        logical_resource_id: request.logical_resource_id.clone(),
        data,
    }
}

fn truncate(reason: &str) -> String {
    if reason.len() <= MAX_REASON_BYTES {
        return reason.to_owned();
    }
    let mut end = MAX_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &reason[..end])
}

/// Handles one invocation of `migrate`: a custom resource request (answered at its
/// `ResponseURL`, whatever happens) or a direct invoke. `migrate` applies the migrations and
/// returns how many exist; it runs in a task of its own so a panic becomes a `FAILED`
/// answer, and is cut off after `budget` (keep it below the function's timeout so the answer
/// still goes out).
pub async fn handle<F, Fut>(event: Value, migrate: F, budget: Duration) -> anyhow::Result<Value>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<usize>> + Send + 'static,
{
    let Some(url) = event.get("ResponseURL").and_then(Value::as_str) else {
        let n = migrate().await?;
        return Ok(json!({"status": "ok", "migrations": n}));
    };
    let request = match serde_json::from_value::<CustomResourceRequest>(event.clone()) {
        Ok(request) => request,
        Err(e) => {
            // Answer anyway, with whatever ids the event has, so the stack does not hang.
            let field = |name: &str| event.get(name).and_then(Value::as_str).unwrap_or("");
            let request = CustomResourceRequest {
                request_type: RequestType::Delete,
                response_url: url.to_owned(),
                stack_id: field("StackId").to_owned(),
                request_id: field("RequestId").to_owned(),
                logical_resource_id: field("LogicalResourceId").to_owned(),
            };
            let answer = response(&request, Err(format!("not a custom resource request: {e}")));
            send(url, &answer).await?;
            return Ok(serde_json::to_value(answer)?);
        }
    };
    let outcome = match action(request.request_type) {
        Action::LeaveSchema => Ok(None),
        Action::Migrate => run_guarded(migrate(), budget).await.map(Some),
    };
    if let Err(reason) = &outcome {
        tracing::error!(%reason, request = ?request.request_type, "migrations failed");
    }
    let answer = response(&request, outcome);
    send(&request.response_url, &answer).await?;
    Ok(serde_json::to_value(answer)?)
}

async fn run_guarded<Fut>(migrate: Fut, budget: Duration) -> Result<usize, String>
where
    Fut: Future<Output = anyhow::Result<usize>> + Send + 'static,
{
    match tokio::time::timeout(budget, tokio::spawn(migrate)).await {
        Err(_) => Err(format!(
            "migrations did not finish within {} s",
            budget.as_secs()
        )),
        Ok(Err(join)) => Err(format!("migrations panicked: {join}")),
        Ok(Ok(Err(e))) => Err(format!("migrations failed: {e:#}")),
        Ok(Ok(Ok(n))) => Ok(n),
    }
}

/// PUTs the answer, retrying briefly: the URL is pre-signed S3 and may hiccup. The URL is
/// signed without a content type, so none is sent.
async fn send(url: &str, answer: &CustomResourceResponse) -> anyhow::Result<()> {
    let body = serde_json::to_vec(answer)?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let mut last = String::new();
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
        }
        match client
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, "")
            .body(body.clone())
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("status {}", r.status()),
            Err(e) => last = e.to_string(),
        }
    }
    anyhow::bail!("could not send the custom resource response: {last}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: RequestType) -> CustomResourceRequest {
        CustomResourceRequest {
            request_type: kind,
            response_url: "http://x".into(),
            stack_id: "s".into(),
            request_id: "r".into(),
            logical_resource_id: "l".into(),
        }
    }

    #[test]
    fn actions_by_request_type() {
        for (kind, want) in [
            (RequestType::Create, Action::Migrate),
            (RequestType::Update, Action::Migrate),
            (RequestType::Delete, Action::LeaveSchema),
        ] {
            assert_eq!(action(kind), want, "{kind:?}");
        }
    }

    #[test]
    fn responses_keep_the_ids_and_one_physical_id() {
        for (outcome, status) in [
            (Ok(Some(7)), Status::Success),
            (Ok(None), Status::Success),
            (Err("boom".to_owned()), Status::Failed),
        ] {
            let r = response(&request(RequestType::Update), outcome);
            assert_eq!(r.status, status);
            assert_eq!(r.physical_resource_id, PHYSICAL_RESOURCE_ID);
            assert_eq!((r.stack_id.as_str(), r.request_id.as_str()), ("s", "r"));
        }
    }

    #[test]
    fn long_reasons_are_cut_on_a_char_boundary() {
        let long = "é".repeat(3_000);
        let r = response(&request(RequestType::Create), Err(long));
        assert!(r.reason.len() <= MAX_REASON_BYTES + 3);
        assert!(serde_json::to_vec(&r).unwrap().len() < 4_096);
    }
}
