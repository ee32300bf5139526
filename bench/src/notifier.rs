//! Part 6: the notifier. (1) One SQS batch of 10 notices, one per user, fanning out to 100
//! devices (per user 4 iPhones, 2 Macs and 4 Android phones), through APNs and FCM
//! stand-ins on loopback (HTTP/2 and HTTP/1.1, answering 200 at once): the time of
//! `handle_batch`. (2) Device-to-device propagation on the local stack: device A confirms a
//! note (the real handler in-process, its notice on the local SQS), a notifier loop receives
//! it from SQS and pushes, the stand-in receives device B's push, and B reads the changes
//! since its cursor, pulls and downloads the note from S3: the time from A's confirm to B
//! holding the bytes, over 50 changes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use serde_json::{Value, json};
use steel_core::config::{ApnsCredentials, FcmSettings, Secret};
use steel_core::domain::UserId;
use steel_core::notifier::apns::{ApnsClient, TokenPolicy};
use steel_core::notifier::fcm::FcmClient;
use steel_core::notifier::{self, Pushers};
use tokio::sync::mpsc;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::api::{self, Endpoint};
use crate::env::BenchEnv;
use crate::report::Section;
use crate::stats::Series;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../shared/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Answers 200 and tells `seen` which device token a push was for.
struct Recorder {
    seen: mpsc::UnboundedSender<(String, Instant)>,
}

impl Respond for Recorder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path();
        if path == "/token" {
            return ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "ya29.bench", "expires_in": 3599}));
        }
        let token = if path.ends_with(":send") {
            serde_json::from_slice::<Value>(&request.body)
                .ok()
                .and_then(|b| b["message"]["token"].as_str().map(str::to_owned))
                .unwrap_or_default()
        } else {
            path.rsplit('/').next().unwrap_or_default().to_owned()
        };
        let _ = self.seen.send((token, Instant::now()));
        ResponseTemplate::new(200).set_body_json(json!({"name": "projects/bench/messages/1"}))
    }
}

/// Both stand-ins in one server, and the notifier's clients pointed at it.
async fn stand_ins() -> anyhow::Result<(
    MockServer,
    Pushers,
    mpsc::UnboundedReceiver<(String, Instant)>,
)> {
    let server = MockServer::start().await;
    let (tx, rx) = mpsc::unbounded_channel();
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(Recorder { seen: tx })
        .mount(&server)
        .await;
    let apns = ApnsClient::new(
        ApnsCredentials {
            key: Secret::new(fixture("apns-key.p8")),
            key_id: "KEYID12345".into(),
            team_id: "TEAMID6789".into(),
            topic: "com.steelnotes.app".into(),
            production_url: format!("{}/prod", server.uri()),
            sandbox_url: format!("{}/sandbox", server.uri()),
        },
        TokenPolicy::default(),
    )?;
    let key = json!({"type": "service_account", "project_id": "bench", "client_email": "n@bench.iam",
                     "private_key": fixture("idp-key.pem"), "token_uri": format!("{}/token", server.uri())});
    let fcm = FcmClient::new(&FcmSettings {
        service_account: Some(Secret::new(key.to_string())),
        project_id: None,
        url: server.uri(),
    })?;
    let pushers = Pushers {
        apns: Some(Arc::new(apns)),
        fcm: Some(Arc::new(fcm)),
    };
    Ok((server, pushers, rx))
}

async fn add_device(
    env: &BenchEnv,
    user: UserId,
    platform: &str,
    token: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO devices (user_id, device_name, platform, push_token, push_environment,
                              push_token_updated_at)
         VALUES ($1, $2, $3, $4, 'production', now())",
    )
    .bind(user)
    .bind(format!("bench {token}"))
    .bind(platform)
    .bind(token)
    .execute(&env.admin)
    .await?;
    Ok(())
}

fn sqs_event(messages: Vec<(String, String)>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .into_iter()
        .map(|(id, body)| {
            let mut m = SqsMessage::default();
            m.message_id = Some(id);
            m.body = Some(body);
            m
        })
        .collect();
    event
}

fn ms(s: &Series, p95: bool) -> String {
    let v = if p95 {
        s.percentile_ms(95.0)
    } else {
        s.median_ms()
    };
    v.map_or_else(|| "–".into(), |v| format!("{v:.1}"))
}

/// (1): one batch of 10 notices to 100 devices, `rounds` times.
async fn fan_out(env: &BenchEnv, rounds: usize) -> anyhow::Result<Series> {
    let (_server, pushers, mut seen) = stand_ins().await?;
    let mut users = Vec::new();
    for u in 0..10 {
        let dev = env.new_user(&format!("bench-notifier-{u}")).await?;
        for (i, platform) in [
            "ios", "ios", "ios", "ios", "macos", "macos", "android", "android", "android",
            "android",
        ]
        .iter()
        .enumerate()
        {
            let token = match *platform {
                "android" => format!("fcm-{u}-{i}:APA91b{}", "x".repeat(140)),
                _ => format!("{:064x}", u * 100 + i),
            };
            add_device(env, dev.user_id, platform, &token).await?;
        }
        users.push(dev.user_id);
    }
    let mut series = Series::default();
    for round in 0..=rounds {
        let messages = users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let body = json!({"user_id": u, "origin_device_id": null,
                                  "cursor": format!("c{}", round + 1), "paths": [format!("notes/{i}.md")]});
                (format!("m{round}-{i}"), body.to_string())
            })
            .collect();
        let started = Instant::now();
        let response = notifier::handle_batch(&env.admin, &pushers, sqs_event(messages)).await;
        let took = started.elapsed();
        anyhow::ensure!(response.batch_item_failures.is_empty(), "a push failed");
        let mut pushes = 0;
        while seen.try_recv().is_ok() {
            pushes += 1;
        }
        anyhow::ensure!(pushes == 100, "{pushes} pushes, not 100");
        // The first batch opens the connections and gets the tokens: a warm-up.
        if round > 0 {
            series.push(took);
        }
    }
    Ok(series)
}

/// (2): A confirms, the notice goes through SQS and the notifier, B hears its push and
/// syncs the note; `changes` times.
async fn propagation(env: &BenchEnv, changes: usize) -> anyhow::Result<Series> {
    let (_server, pushers, mut seen) = stand_ins().await?;
    let a = env.new_user("bench-propagation").await?;
    let b = env.new_device(a.user_id, "B").await?;
    let b_token = format!("{:064x}", 7);
    sqlx::query("UPDATE devices SET platform = 'ios', push_token = $2 WHERE id = $1")
        .bind(b.device_id)
        .bind(&b_token)
        .execute(&env.admin)
        .await?;
    let queue = env.new_queue().await?;
    let push = env.sandbox(Endpoint::Push).await?;
    let confirm = env.sandbox(Endpoint::Confirm).await?.with_queue(&queue);
    let state = env.sandbox(Endpoint::State).await?;
    let pull = env.sandbox(Endpoint::Pull).await?;
    let sqs = env.sqs_client();

    // The notifier: long-polls the queue, pushes, deletes what it handled.
    let (db, notifier_queue, notifier_sqs) = (env.admin.clone(), queue.clone(), sqs.clone());
    let notifier_loop = tokio::spawn(async move {
        loop {
            let Ok(got) = notifier_sqs
                .receive_message()
                .queue_url(&notifier_queue)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
            else {
                continue;
            };
            let messages = got.messages.unwrap_or_default();
            if messages.is_empty() {
                continue;
            }
            let batch = messages
                .iter()
                .map(|m| {
                    (
                        m.message_id().unwrap_or_default().to_owned(),
                        m.body().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            notifier::handle_batch(&db, &pushers, sqs_event(batch)).await;
            for m in &messages {
                let _ = notifier_sqs
                    .delete_message()
                    .queue_url(&notifier_queue)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await;
            }
        }
    });

    let mut cursor = format!("c{}", env.head(a.user_id).await?);
    let mut series = Series::default();
    for i in 0..=changes {
        let path = format!("notes/propagated {i}.md");
        let bytes = api::note_bytes(&path);
        let body = json!({"files": [api::file_entry(&path, 0, &bytes)]});
        let pushed = api::call(
            &push,
            api::event(Endpoint::Push, &[], Some(&body), &a.token),
        )
        .await;
        let uploads = pushed.reply.list("uploads").to_vec();
        api::upload_all(
            &env.http,
            &uploads,
            &[(path.clone(), bytes.clone())].into_iter().collect(),
            1,
        )
        .await?;
        while seen.try_recv().is_ok() {}
        let started = Instant::now();
        let confirmed = api::call(
            &confirm,
            api::event(Endpoint::Confirm, &[], Some(&body), &a.token),
        )
        .await;
        anyhow::ensure!(
            confirmed.reply.list("confirmed").len() == 1,
            "confirm: {}",
            confirmed.reply.describe()
        );
        // B's push arrives.
        loop {
            let (token, _) = tokio::time::timeout(Duration::from_secs(30), seen.recv())
                .await?
                .ok_or_else(|| anyhow::anyhow!("stand-in closed"))?;
            if token == b_token {
                break;
            }
        }
        // B syncs: the changes since its cursor, then the note's bytes.
        let changed = api::call(
            &state,
            api::event(
                Endpoint::State,
                &[("cursor", cursor.clone())],
                None,
                &b.token,
            ),
        )
        .await;
        anyhow::ensure!(
            changed
                .reply
                .list("files")
                .iter()
                .any(|f| f["path"] == path),
            "B did not see {path}"
        );
        cursor = changed.reply.body["cursor"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let pulled = api::call(
            &pull,
            api::event(
                Endpoint::Pull,
                &[],
                Some(&json!({"paths": [path]})),
                &b.token,
            ),
        )
        .await;
        let url = pulled.reply.list("files")[0]["download_url"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let got = env.http.get(&url).send().await?.bytes().await?;
        anyhow::ensure!(got.as_ref() == bytes.as_slice(), "B downloaded other bytes");
        if i > 0 {
            series.push(started.elapsed());
        }
    }
    notifier_loop.abort();
    Ok(series)
}

pub async fn run(env: &BenchEnv, quick: bool) -> anyhow::Result<Section> {
    let (rounds, changes) = if quick { (3, 5) } else { (30, 50) };
    let batch = fan_out(env, rounds).await?;
    let travel = propagation(env, changes).await?;
    let body = format!(
        "APNs and FCM stand-ins on loopback answering 200 at once (so this is the notifier's own \
         cost: the database reads, signing, HTTP/2 and HTTP/1.1 round trips, 32 sends at a time).\n\n\
         | measure | n | median ms | p95 ms |\n|---|---|---|---|\n\
         | one batch: 10 notices, 100 devices (40 iPhones, 20 Macs, 40 Android phones) | {} | {} | {} |\n\
         | device to device: A's confirm → SQS → notifier → B's push → B has the bytes | {} | {} | {} |\n\n\
         The propagation loop runs the real handlers in-process (push, confirm, state, pull), the \
         local SQS (moto, the notifier long-polling it with a 1 s wait) and S3 (s3s-fs); it \
         leaves out API Gateway and Lambda's own SQS poller (which adds its batching window, at \
         most 2 s in template.yaml).\n",
        batch.len(),
        ms(&batch, false),
        ms(&batch, true),
        travel.len(),
        ms(&travel, false),
        ms(&travel, true),
    );
    Ok(Section {
        title: "6. Notifier".into(),
        summary: format!(
            "A batch of 10 notices to 100 devices (APNs and FCM): {} ms median; a change from \
             device A to device B through SQS, the notifier and a push: {} ms median, {} ms p95.",
            ms(&batch, false),
            ms(&travel, false),
            ms(&travel, true)
        ),
        body,
    })
}
