//! Login, refresh, device registration and the bearer check, against a real Postgres and a
//! real local JWKS server holding a test RSA key.

mod common;

use aws_lambda_events::http::Method;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::handlers::{login, refresh, register};

async fn login_with(state: &TestState, body: Value) -> Answer {
    call(
        state,
        login::handle,
        Method::POST,
        "/auth/login",
        Some(&body),
        None,
    )
    .await
}

async fn apple_login(state: &TestState, sub: &str) -> Answer {
    login_with(
        state,
        json!({"provider": "apple", "identity_token": id_token(&apple_claims(sub))}),
    )
    .await
}

fn refused(answer: &Answer) {
    assert_eq!(answer.status, 401, "{:?}", answer.body);
    assert_eq!(answer.code(), "invalid_identity_token", "{:?}", answer.body);
    assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"));
}

async fn user_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(pool)
        .await
        .expect("count")
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn apple_and_google_logins_create_the_user_once(pool: PgPool) {
    let idp = Idp::start().await;
    let state = auth_state(pool.clone(), &idp).await;

    let first = apple_login(&state, "001234.apple.sub").await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["token_type"], "Bearer");
    assert_eq!(first.body["expires_in"], 3600);
    assert!(first.body["device_id"].is_null());
    let user_id = first.body["user_id"].as_str().expect("user_id").to_owned();
    let caller = state
        .tokens
        .verify_access(first.body["access_token"].as_str().expect("at"))
        .expect("our token");
    assert_eq!(caller.user_id.to_string(), user_id);

    let second = apple_login(&state, "001234.apple.sub").await;
    assert_eq!(second.body["user_id"], user_id.as_str());
    assert_ne!(second.body["refresh_token"], first.body["refresh_token"]);

    let google = login_with(
        &state,
        json!({"provider": "google", "identity_token": id_token(&google_claims("10987654321"))}),
    )
    .await;
    assert_eq!(google.status, 200, "{:?}", google.body);
    assert_ne!(google.body["user_id"], user_id.as_str());
    assert_eq!(user_count(&pool).await, 2);
    let email: Option<String> =
        sqlx::query_scalar("SELECT email FROM users WHERE provider = 'google'")
            .fetch_one(&pool)
            .await
            .expect("email");
    assert_eq!(email.as_deref(), Some("anna@example.com"));
    // The keys were fetched once per provider and then served from the cache.
    assert_eq!(idp.fetches("/apple/keys").await, 1);
    assert_eq!(idp.fetches("/google/certs").await, 1);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn login_with_a_device_binds_the_tokens_to_it(pool: PgPool) {
    let idp = Idp::start().await;
    let state = auth_state(pool.clone(), &idp).await;
    let answer = login_with(
        &state,
        json!({
            "provider": "apple",
            "identity_token": id_token(&apple_claims("with-device")),
            "device": {"device_name": "Anna's iPhone", "platform": "ios", "push_token": "abc123", "push_environment": "sandbox"}
        }),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let device_id = answer.body["device_id"].as_str().expect("device id");
    assert_eq!(answer.body["device"]["device_id"], device_id);
    assert_eq!(answer.body["device"]["push_environment"], "sandbox");
    assert_eq!(answer.body["device"]["has_push_token"], true);
    assert!(
        answer.body["device"].get("push_token").is_none(),
        "the token itself is never echoed"
    );
    let caller = state
        .tokens
        .verify_access(answer.body["access_token"].as_str().expect("at"))
        .expect("valid");
    assert_eq!(
        caller.device_id.map(|d| d.to_string()).as_deref(),
        Some(device_id)
    );
    let bound: Option<uuid::Uuid> = sqlx::query_scalar("SELECT device_id FROM refresh_tokens")
        .fetch_one(&pool)
        .await
        .expect("token row");
    assert_eq!(bound.map(|d| d.to_string()).as_deref(), Some(device_id));

    // A bad device description is refused before anything is written.
    let bad = login_with(
        &state,
        json!({"provider": "apple", "identity_token": id_token(&apple_claims("bad-device")),
               "device": {"device_name": "x", "platform": "windows"}}),
    )
    .await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_value"));
    assert_eq!(user_count(&pool).await, 1);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn concurrent_first_logins_make_one_user(pool: PgPool) {
    let idp = Idp::start().await;
    let state = auth_state(pool.clone(), &idp).await;
    let token = id_token(&apple_claims("racer"));
    let body = json!({"provider": "apple", "identity_token": token});
    let answers = futures_join(&state, &body, 8).await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|a| {
            assert_eq!(a.status, 200, "{:?}", a.body);
            a.body["user_id"].as_str().expect("id").to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(user_count(&pool).await, 1);
}

async fn futures_join(state: &TestState, body: &Value, n: usize) -> Vec<Answer> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let state = state.clone();
        let body = body.clone();
        set.spawn(async move { login_with(&state, body).await });
    }
    let mut out = Vec::new();
    while let Some(a) = set.join_next().await {
        out.push(a.expect("task"));
    }
    out
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn identity_tokens_with_any_defect_are_refused(pool: PgPool) {
    let idp = Idp::start().await;
    let state = auth_state(pool.clone(), &idp).await;
    let apple = |claims: Value| json!({"provider": "apple", "identity_token": id_token(&claims)});

    let mut c = apple_claims("s");
    c["aud"] = json!("com.someone.else");
    refused(&login_with(&state, apple(c)).await);

    let mut c = apple_claims("s");
    c["iss"] = json!("https://evil.example.com");
    refused(&login_with(&state, apple(c)).await);

    // Google's issuer is not Apple's.
    let mut c = apple_claims("s");
    c["iss"] = json!("https://accounts.google.com");
    refused(&login_with(&state, apple(c)).await);

    let mut c = apple_claims("s");
    c["exp"] = json!(now() - 3600);
    refused(&login_with(&state, apple(c)).await);

    // Signed by another key that claims the provider's kid.
    let forged = id_token_with(&apple_claims("s"), Some(TEST_KID), "other-key.pem");
    refused(
        &login_with(
            &state,
            json!({"provider": "apple", "identity_token": forged}),
        )
        .await,
    );

    let mut c = apple_claims("s");
    c.as_object_mut().expect("obj").remove("sub");
    refused(&login_with(&state, apple(c)).await);

    let mut c = apple_claims("s");
    c["sub"] = json!("");
    refused(&login_with(&state, apple(c)).await);

    // alg: none, with the provider's kid.
    let b64 = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": TEST_KID, "typ": "JWT"})),
        b64(&apple_claims("s"))
    );
    refused(&login_with(&state, json!({"provider": "apple", "identity_token": none})).await);

    // HS256 "signed" with the provider's public key: the classic algorithm confusion.
    let public_pem = std::fs::read(fixture("idp-key.pub.pem")).expect("pub");
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(TEST_KID.into());
    let confused = jsonwebtoken::encode(
        &header,
        &apple_claims("s"),
        &EncodingKey::from_secret(&public_pem),
    )
    .expect("hs");
    refused(
        &login_with(
            &state,
            json!({"provider": "apple", "identity_token": confused}),
        )
        .await,
    );

    for garbage in ["", "not-a-jwt", "a.b.c"] {
        refused(
            &login_with(
                &state,
                json!({"provider": "apple", "identity_token": garbage}),
            )
            .await,
        );
    }
    assert_eq!(
        user_count(&pool).await,
        0,
        "no refused login wrote anything"
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn nonce_must_match_as_apple_documents(pool: PgPool) {
    let idp = Idp::start().await;
    let state = auth_state(pool.clone(), &idp).await;
    let raw = "d1f7c0f4-raw-nonce";
    let hashed = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(raw.as_bytes()))
    };
    let mut c = apple_claims("nonce-user");
    c["nonce"] = json!(hashed);
    let token = id_token(&c);
    let ok = login_with(
        &state,
        json!({"provider": "apple", "identity_token": token, "nonce": raw}),
    )
    .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    refused(
        &login_with(
            &state,
            json!({"provider": "apple", "identity_token": token, "nonce": "another"}),
        )
        .await,
    );
    // The raw nonce in the token (the app forgot to hash it) does not match either.
    let mut c = apple_claims("nonce-user");
    c["nonce"] = json!(raw);
    refused(
        &login_with(
            &state,
            json!({"provider": "apple", "identity_token": id_token(&c), "nonce": raw}),
        )
        .await,
    );
    // A nonce in the request but none in the token.
    refused(
        &login_with(&state, json!({"provider": "apple", "identity_token": id_token(&apple_claims("nonce-user")), "nonce": raw}))
            .await,
    );
    // Booleans as real booleans are fine too.
    let mut c = apple_claims("bool-user");
    c["email_verified"] = json!(true);
    c["is_private_email"] = json!(false);
    let ok = login_with(
        &state,
        json!({"provider": "apple", "identity_token": id_token(&c)}),
    )
    .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn unknown_kid_refetches_once_then_refuses(pool: PgPool) {
    let idp = Idp::start().await;
    let state = auth_state(pool.clone(), &idp).await;
    assert_eq!(apple_login(&state, "warm").await.status, 200);
    assert_eq!(idp.fetches("/apple/keys").await, 1);

    let rotated = id_token_with(&apple_claims("s"), Some("kid-we-never-saw"), "idp-key.pem");
    refused(
        &login_with(
            &state,
            json!({"provider": "apple", "identity_token": rotated}),
        )
        .await,
    );
    assert_eq!(
        idp.fetches("/apple/keys").await,
        2,
        "one refetch for the unknown kid"
    );

    // More unknown kids right after: no more fetches (rate limited), still refused.
    for i in 0..5 {
        let t = id_token_with(
            &apple_claims("s"),
            Some(&format!("made-up-{i}")),
            "idp-key.pem",
        );
        refused(&login_with(&state, json!({"provider": "apple", "identity_token": t})).await);
    }
    assert_eq!(idp.fetches("/apple/keys").await, 2);
    // No kid at all is refused without a fetch.
    let t = id_token_with(&apple_claims("s"), None, "idp-key.pem");
    refused(&login_with(&state, json!({"provider": "apple", "identity_token": t})).await);
    assert_eq!(idp.fetches("/apple/keys").await, 2);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn unreachable_keys_are_a_503_and_disabled_providers_a_400(pool: PgPool) {
    let idp = Idp::start().await;
    let config = config(&[
        ("APPLE_CLIENT_ID", APPLE_AUDIENCE),
        ("APPLE_JWKS_URL", &format!("{}/missing", idp.server.uri())),
    ]);
    let state = login_state(
        steel_core::runtime::AppState::new(config, pool.clone()),
        Default::default(),
    );
    let down = apple_login(&state, "s").await;
    assert_eq!(
        (down.status, down.code()),
        (503, "identity_provider_unavailable")
    );
    let google = login_with(
        &state,
        json!({"provider": "google", "identity_token": id_token(&google_claims("g"))}),
    )
    .await;
    assert_eq!(
        (google.status, google.code()),
        (400, "provider_not_enabled")
    );
    let unknown = login_with(
        &state,
        json!({"provider": "facebook", "identity_token": "x"}),
    )
    .await;
    assert_eq!((unknown.status, unknown.code()), (400, "invalid_value"));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn refresh_rotates_and_a_replay_revokes_the_family(pool: PgPool) {
    let idp = Idp::start().await;
    let state = auth_state(pool.clone(), &idp).await;
    let login = login_with(
        &state,
        json!({"provider": "apple", "identity_token": id_token(&apple_claims("rotating")),
               "device": {"device_name": "Mac", "platform": "macos"}}),
    )
    .await;
    let r0 = login.body["refresh_token"].as_str().expect("r0").to_owned();

    let first = refresh_with(&state, &r0).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["user_id"], login.body["user_id"]);
    assert_eq!(first.body["device_id"], login.body["device_id"]);
    let r1 = first.body["refresh_token"].as_str().expect("r1").to_owned();
    assert_ne!(r1, r0);
    let caller = state
        .tokens
        .verify_access(first.body["access_token"].as_str().expect("at"))
        .expect("valid");
    assert_eq!(
        caller.device_id.map(|d| d.to_string()),
        login.body["device_id"].as_str().map(str::to_owned)
    );

    let second = refresh_with(&state, &r1).await;
    assert_eq!(second.status, 200);
    let r2 = second.body["refresh_token"]
        .as_str()
        .expect("r2")
        .to_owned();

    // r0 again: a replay. The whole family dies, r2 included.
    let replay = refresh_with(&state, &r0).await;
    assert_eq!(
        (replay.status, replay.code()),
        (401, "refresh_token_reused")
    );
    let after = refresh_with(&state, &r2).await;
    assert_eq!((after.status, after.code()), (401, "refresh_token_revoked"));

    // Only hashes are stored.
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_hash FROM refresh_tokens")
        .fetch_all(&pool)
        .await
        .expect("rows");
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|h| h.len() == 32 && h != r2.as_bytes()));

    let unknown = refresh_with(&state, "made-up-token").await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (401, "invalid_refresh_token")
    );
    let empty = refresh_with(&state, "").await;
    assert_eq!(empty.status, 401);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn expired_refresh_tokens_are_refused(pool: PgPool) {
    let idp = Idp::start().await;
    let state = auth_state(pool.clone(), &idp).await;
    let login = apple_login(&state, "expiring").await;
    let token = login.body["refresh_token"].as_str().expect("rt");
    sqlx::query("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .expect("expire");
    let answer = refresh_with(&state, token).await;
    assert_eq!(
        (answer.status, answer.code()),
        (401, "refresh_token_expired")
    );
    assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"));
}

async fn register_with(state: &TestState, bearer: Option<&str>, body: Value) -> Answer {
    call(
        state,
        register::handle,
        Method::POST,
        "/devices/register",
        Some(&body),
        bearer,
    )
    .await
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn register_creates_then_updates_the_bound_device(pool: PgPool) {
    let idp = Idp::start().await;
    let state = auth_state(pool.clone(), &idp).await;
    let login = apple_login(&state, "registrar").await;
    let unbound = login.body["access_token"].as_str().expect("at").to_owned();

    // A token without a device: the device is created and a pair bound to it comes back.
    let created = register_with(
        &state,
        Some(&unbound),
        json!({"device_name": "Anna's iPhone", "platform": "ios", "push_token": "aaa111"}),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let device_id = created.body["device_id"]
        .as_str()
        .expect("device")
        .to_owned();
    assert_eq!(
        created.body["device"]["push_environment"], "production",
        "default environment"
    );
    let bound = created.body["access_token"]
        .as_str()
        .expect("bound token")
        .to_owned();
    let caller = state.tokens.verify_access(&bound).expect("valid");
    assert_eq!(
        caller.device_id.map(|d| d.to_string()),
        Some(device_id.clone())
    );
    let refreshed = refresh_with(&state, created.body["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(refreshed.body["device_id"], device_id.as_str());

    // With the bound token: update the same device, idempotently.
    let body = json!({"device_name": "Anna's iPhone 17", "platform": "ios", "push_token": "bbb222", "push_environment": "sandbox"});
    let updated = register_with(&state, Some(&bound), body.clone()).await;
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    assert_eq!(updated.body["device"]["device_id"], device_id.as_str());
    assert_eq!(updated.body["device"]["device_name"], "Anna's iPhone 17");
    assert_eq!(updated.body["device"]["push_environment"], "sandbox");
    assert!(updated.body.get("access_token").is_none());
    let again = register_with(&state, Some(&bound), body).await;
    assert_eq!(again.body["device"]["device_id"], device_id.as_str());
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM devices")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(count, 1);

    // The app was reinstalled: a new device registers with the same push token; it moves.
    let second = register_with(
        &state,
        Some(&unbound),
        json!({"device_name": "Anna's iPhone (new)", "platform": "ios", "push_token": "bbb222"}),
    )
    .await;
    assert_eq!(second.status, 201);
    let tokens: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT device_name, push_token FROM devices ORDER BY created_at")
            .fetch_all(&pool)
            .await
            .expect("rows");
    assert_eq!(
        tokens,
        vec![
            ("Anna's iPhone 17".to_owned(), None),
            ("Anna's iPhone (new)".to_owned(), Some("bbb222".to_owned()))
        ]
    );

    // Bad input: 400, nothing changed.
    for (body, code) in [
        (
            json!({"device_name": "", "platform": "ios"}),
            "invalid_device_name",
        ),
        (
            json!({"device_name": "x", "platform": "ios", "push_token": "has space"}),
            "invalid_push_token",
        ),
        (
            json!({"device_name": "x", "platform": "ios", "push_environment": "staging"}),
            "invalid_value",
        ),
        (json!({"platform": "ios"}), "missing_field"),
    ] {
        let answer = register_with(&state, Some(&bound), body).await;
        assert_eq!((answer.status, answer.code()), (400, code));
    }
    let unauthenticated =
        register_with(&state, None, json!({"device_name": "x", "platform": "ios"})).await;
    assert_eq!(
        (unauthenticated.status, unauthenticated.code()),
        (401, "missing_token")
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_bearer_check_refuses_every_bad_token_alike(pool: PgPool) {
    let idp = Idp::start().await;
    let state = auth_state(pool.clone(), &idp).await;
    let login = apple_login(&state, "bearer").await;
    let good = login.body["access_token"].as_str().expect("at").to_owned();
    let user_id: uuid::Uuid = login.body["user_id"]
        .as_str()
        .expect("uid")
        .parse()
        .expect("uuid");
    let body = json!({"device_name": "Mac", "platform": "macos"});

    let hs = |claims: Value, secret: &[u8]| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .expect("jwt")
    };
    let claims = |iss: &str, aud: &str, exp: i64| json!({"sub": user_id, "iat": now(), "exp": exp, "iss": iss, "aud": aud});
    let secret = JWT_SECRET.as_bytes();
    let b64 = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let bad_tokens = vec![
        (
            "bad signature",
            hs(
                claims("steel-notes-sync", "steel-notes-api", now() + 600),
                b"wrong-secret-wrong-secret-wrong-s",
            ),
        ),
        (
            "expired",
            hs(
                claims("steel-notes-sync", "steel-notes-api", now() - 3600),
                secret,
            ),
        ),
        (
            "wrong iss",
            hs(
                claims("someone-else", "steel-notes-api", now() + 600),
                secret,
            ),
        ),
        (
            "wrong aud",
            hs(claims("steel-notes-sync", "other-api", now() + 600), secret),
        ),
        (
            "no sub",
            hs(
                json!({"iat": now(), "exp": now() + 600, "iss": "steel-notes-sync", "aud": "steel-notes-api"}),
                secret,
            ),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&claims("steel-notes-sync", "steel-notes-api", now() + 600))
            ),
        ),
        (
            "RS256",
            id_token_with(
                &claims("steel-notes-sync", "steel-notes-api", now() + 600),
                Some(TEST_KID),
                "idp-key.pem",
            ),
        ),
        ("an identity token", id_token(&apple_claims("bearer"))),
        ("garbage", "garbage".to_owned()),
    ];
    let mut bodies = std::collections::BTreeSet::new();
    for (what, token) in &bad_tokens {
        let answer = register_with(&state, Some(token), body.clone()).await;
        assert_eq!(answer.status, 401, "{what}");
        assert_eq!(answer.code(), "invalid_token", "{what}");
        assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"), "{what}");
        bodies.insert(answer.body.to_string());
    }
    assert_eq!(bodies.len(), 1, "every refusal looks the same: {bodies:?}");

    // Wrong scheme, and no header at all.
    let mut e = event(Method::POST, "/devices/register", Some(&body), None);
    e.headers.insert(
        "authorization",
        format!("Basic {good}").parse().expect("hdr"),
    );
    let answer = call_event(&state, e, register::handle).await;
    assert_eq!((answer.status, answer.code()), (401, "invalid_token"));
    let answer = register_with(&state, None, body.clone()).await;
    assert_eq!((answer.status, answer.code()), (401, "missing_token"));

    // The good token works, until its user is deleted.
    assert_eq!(
        register_with(&state, Some(&good), body.clone())
            .await
            .status,
        201
    );
    sqlx::query("DELETE FROM users")
        .execute(&pool)
        .await
        .expect("delete");
    let answer = register_with(&state, Some(&good), body).await;
    assert_eq!((answer.status, answer.code()), (401, "invalid_token"));
}

/// The samples in events/login, events/refresh and events/register go through the real
/// handlers, with their placeholders replaced by real tokens.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn auth_sample_events_go_through_the_handlers(pool: PgPool) {
    let idp = Idp::start().await;
    let state = auth_state(pool.clone(), &idp).await;
    let with_body = |name: &str, from: &str, to: &str| {
        let mut e = sample_event(name);
        e.body = e.body.map(|b| b.replace(from, to));
        e
    };

    let mut apple = apple_claims("sample-user");
    let hashed_nonce = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b"raw-nonce-123"))
    };
    apple["nonce"] = json!(hashed_nonce);
    let answer = call_event(
        &state,
        with_body(
            "login/apple.json",
            "REPLACE_WITH_APPLE_ID_TOKEN",
            &id_token(&apple),
        ),
        login::handle,
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert!(answer.body["device_id"].is_string());
    let refresh_token = answer.body["refresh_token"]
        .as_str()
        .expect("rt")
        .to_owned();
    let unbound = apple_login(&state, "sample-user").await.body["access_token"]
        .as_str()
        .expect("at")
        .to_owned();

    let answer = call_event(
        &state,
        with_body(
            "login/google.json",
            "REPLACE_WITH_GOOGLE_ID_TOKEN",
            &id_token(&google_claims("g-sample")),
        ),
        login::handle,
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let answer = call_event(&state, sample_event("login/google.json"), login::handle).await;
    assert_eq!(
        (answer.status, answer.code()),
        (401, "invalid_identity_token"),
        "placeholder token"
    );
    let answer = call_event(
        &state,
        sample_event("login/malformed-json.json"),
        login::handle,
    )
    .await;
    assert_eq!((answer.status, answer.code()), (400, "malformed_json"));
    let answer = call_event(
        &state,
        sample_event("login/missing-field.json"),
        login::handle,
    )
    .await;
    assert_eq!((answer.status, answer.code()), (400, "missing_field"));

    let answer = call_event(
        &state,
        with_body(
            "refresh/valid.json",
            "REPLACE_WITH_REFRESH_TOKEN",
            &refresh_token,
        ),
        refresh::handle,
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let answer = call_event(
        &state,
        sample_event("refresh/wrong-content-type.json"),
        refresh::handle,
    )
    .await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "invalid_content_type")
    );

    let bearer = |name: &str| {
        let mut e = sample_event(name);
        e.headers.insert(
            "authorization",
            format!("Bearer {unbound}").parse().expect("hdr"),
        );
        e
    };
    let answer = call_event(&state, bearer("register/valid.json"), register::handle).await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    assert_eq!(answer.body["device"]["platform"], "macos");
    let answer = call_event(&state, bearer("register/wrong-type.json"), register::handle).await;
    assert_eq!((answer.status, answer.code()), (400, "invalid_type"));
    let answer = call_event(
        &state,
        sample_event("register/valid.json"),
        register::handle,
    )
    .await;
    assert_eq!(
        (answer.status, answer.code()),
        (401, "invalid_token"),
        "placeholder bearer"
    );
}
