//! Secrets read once per cold start from Secrets Manager, so a rotated secret reaches the
//! functions at their next cold start instead of their next deploy, and no secret value sits
//! in a function's configuration.
//!
//! A deployed function gets ARNs (`DATABASE_SECRET_ARN`, `JWT_SECRET_ARN`,
//! `APNS_KEY_SECRET_ARN`, `FCM_SERVICE_ACCOUNT_SECRET_ARN`); their values become the settings
//! [`Config`] already reads (`DATABASE_URL`, `JWT_SECRET`, `APNS_KEY`, `FCM_SERVICE_ACCOUNT`), so handlers do not change. Without any ARN (local
//! development, tests) nothing is fetched and the plain variables are used as before.

use std::collections::HashMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use crate::config::{Config, ConfigError};

/// `(variable holding an ARN, setting its plain-text value becomes)`.
const PLAIN_SECRETS: [(&str, &str); 3] = [
    ("JWT_SECRET_ARN", "JWT_SECRET"),
    ("APNS_KEY_SECRET_ARN", "APNS_KEY"),
    ("FCM_SERVICE_ACCOUNT_SECRET_ARN", "FCM_SERVICE_ACCOUNT"),
];
/// Holds the database secret's ARN (JSON, RDS's shape), which becomes `DATABASE_URL`.
const DATABASE_SECRET_ARN: &str = "DATABASE_SECRET_ARN";

/// Characters left as they are in a URL's user, password and path: RFC 3986's unreserved.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The database secret as RDS and `SecretTargetAttachment` write it.
#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSecret {
    pub username: String,
    pub password: String,
    pub host: String,
    pub port: Port,
    #[serde(default)]
    pub dbname: Option<String>,
}

/// RDS writes the port as a number; secrets written by hand often hold a string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Port {
    Number(u16),
    Text(String),
}

/// The connection URL of `secret`. `host` (RDS Proxy's endpoint) replaces the secret's own
/// host; `sslmode` is libpq's (`require` deployed).
pub fn database_url(
    secret: &DatabaseSecret,
    host: Option<&str>,
    sslmode: &str,
) -> Result<String, ConfigError> {
    let bad = |reason: &str| ConfigError::Invalid {
        name: DATABASE_SECRET_ARN,
        reason: reason.to_owned(),
    };
    let port = match &secret.port {
        Port::Number(n) => *n,
        Port::Text(s) => s.trim().parse().map_err(|_| bad("port is not a number"))?,
    };
    let host = host.unwrap_or(&secret.host).trim();
    if host.is_empty() || host.contains(['/', '@', '?', '#', ' ']) {
        return Err(bad("host is empty or not a host name"));
    }
    if secret.username.is_empty() {
        return Err(bad("username is empty"));
    }
    let dbname = secret.dbname.as_deref().unwrap_or("postgres");
    Ok(format!(
        "postgres://{}:{}@{host}:{port}/{}?sslmode={sslmode}",
        utf8_percent_encode(&secret.username, USERINFO),
        utf8_percent_encode(&secret.password, USERINFO),
        utf8_percent_encode(dbname, USERINFO),
    ))
}

/// Reads one secret's string value.
pub trait SecretSource {
    fn get(&self, arn: &str) -> impl Future<Output = anyhow::Result<String>> + Send;
}

/// Secrets Manager itself.
pub struct SecretsManager(pub aws_sdk_secretsmanager::Client);

impl SecretSource for SecretsManager {
    async fn get(&self, arn: &str) -> anyhow::Result<String> {
        let out = self.0.get_secret_value().secret_id(arn).send().await?;
        out.secret_string
            .ok_or_else(|| anyhow::anyhow!("secret {arn} has no SecretString"))
    }
}

/// The settings the secrets named in the environment (`lookup`) stand for, fetched from
/// `source`. Empty when no `*_SECRET_ARN` is set.
pub async fn resolve(
    lookup: &(dyn Fn(&str) -> Option<String> + Sync),
    source: &impl SecretSource,
) -> anyhow::Result<HashMap<String, String>> {
    let set = |name: &str| {
        lookup(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut out = HashMap::new();
    for (arn_var, setting) in PLAIN_SECRETS {
        if let Some(arn) = set(arn_var) {
            let value = source
                .get(&arn)
                .await
                .map_err(|e| anyhow::anyhow!("{arn_var}: {e:#}"))?;
            out.insert(setting.to_owned(), value);
        }
    }
    if let Some(arn) = set(DATABASE_SECRET_ARN) {
        let raw = source
            .get(&arn)
            .await
            .map_err(|e| anyhow::anyhow!("{DATABASE_SECRET_ARN}: {e:#}"))?;
        let secret: DatabaseSecret = serde_json::from_str(&raw).map_err(|e| {
            anyhow::anyhow!("{DATABASE_SECRET_ARN}: not username/password/host/port JSON: {e}")
        })?;
        let sslmode = set("DATABASE_SSLMODE").unwrap_or_else(|| "require".into());
        if !["disable", "prefer", "require"].contains(&sslmode.as_str()) {
            anyhow::bail!("DATABASE_SSLMODE must be disable, prefer or require");
        }
        let url = database_url(&secret, set("DATABASE_HOST").as_deref(), &sslmode)?;
        out.insert("DATABASE_URL".to_owned(), url);
    }
    Ok(out)
}

/// True when the environment names a secret to fetch.
pub fn any_secret_arn(lookup: &dyn Fn(&str) -> Option<String>) -> bool {
    PLAIN_SECRETS
        .iter()
        .map(|(arn_var, _)| *arn_var)
        .chain([DATABASE_SECRET_ARN])
        .any(|name| lookup(name).is_some_and(|v| !v.trim().is_empty()))
}

/// The configuration of a cold start: the environment, with the secrets it names fetched
/// from Secrets Manager (the SDK client is only built when there is one to fetch).
pub async fn config_from_env() -> anyhow::Result<Config> {
    let env = |name: &str| std::env::var(name).ok();
    let overrides = if any_secret_arn(&env) {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let source = SecretsManager(aws_sdk_secretsmanager::Client::new(&sdk));
        resolve(&env, &source).await?
    } else {
        HashMap::new()
    };
    Ok(Config::from_lookup(|name| {
        overrides.get(name).cloned().or_else(|| env(name))
    })?)
}

/// `migrate`'s one setting: the database URL, from `DATABASE_SECRET_ARN` (fetched) or
/// `DATABASE_URL`.
pub async fn database_url_from_env() -> anyhow::Result<String> {
    let env = |name: &str| match name {
        DATABASE_SECRET_ARN | "DATABASE_HOST" | "DATABASE_SSLMODE" | "DATABASE_URL" => {
            std::env::var(name).ok()
        }
        _ => None,
    };
    if any_secret_arn(&env) {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let source = SecretsManager(aws_sdk_secretsmanager::Client::new(&sdk));
        if let Some(url) = resolve(&env, &source).await?.remove("DATABASE_URL") {
            return Ok(url);
        }
    }
    env("DATABASE_URL")
        .ok_or_else(|| anyhow::anyhow!("DATABASE_URL or DATABASE_SECRET_ARN is required"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(user: &str, password: &str, port: Port, dbname: Option<&str>) -> DatabaseSecret {
        DatabaseSecret {
            username: user.into(),
            password: password.into(),
            host: "db.internal".into(),
            port,
            dbname: dbname.map(Into::into),
        }
    }

    #[test]
    fn database_urls() {
        let cases = [
            (
                secret("steel", "abc123", Port::Number(5432), Some("steel")),
                None,
                Ok("postgres://steel:abc123@db.internal:5432/steel?sslmode=require"),
            ),
            (
                secret("u", "p@ss:w/rd?#%", Port::Text("6432".into()), None),
                Some("proxy.internal"),
                Ok(
                    "postgres://u:p%40ss%3Aw%2Frd%3F%23%25@proxy.internal:6432/postgres?sslmode=require",
                ),
            ),
            (
                secret("u", "p", Port::Text("x".into()), None),
                None,
                Err("port"),
            ),
            (
                secret("", "p", Port::Number(1), None),
                None,
                Err("username"),
            ),
            (
                secret("u", "p", Port::Number(1), None),
                Some("evil@host"),
                Err("host"),
            ),
        ];
        for (s, host, want) in cases {
            let got = database_url(&s, host, "require");
            match (got, want) {
                (Ok(url), Ok(want)) => assert_eq!(url, want),
                (Err(e), Err(word)) => assert!(e.to_string().contains(word), "{e}"),
                (got, want) => panic!("{got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn an_encoded_url_parses_back_to_the_password() {
        let s = secret("u", "p@ss:w/rd?#%é", Port::Number(5432), Some("d"));
        let url = database_url(&s, None, "require").unwrap();
        let opts: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
        assert_eq!(opts.get_username(), "u");
        assert_eq!(opts.get_database(), Some("d"));
    }
}
