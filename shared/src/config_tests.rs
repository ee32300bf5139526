//! `Config::from_lookup`: defaults, limits and refusals of every setting.

use super::*;
use std::collections::HashMap;

fn base() -> HashMap<&'static str, &'static str> {
    HashMap::from([
        ("DATABASE_URL", "postgres://u@127.0.0.1:5432/db"),
        ("S3_BUCKET", "steel-vault"),
        ("S3_REGION", "eu-west-1"),
        ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
    ])
}

fn load(vars: &HashMap<&'static str, &'static str>) -> Result<Config, ConfigError> {
    Config::from_lookup(|k| vars.get(k).map(|v| v.to_string()))
}

#[test]
fn minimal_environment_gets_defaults() {
    let config = load(&base()).expect("valid config");
    assert_eq!(config.database.max_connections, 2);
    assert_eq!(config.tokens.access_ttl, Duration::from_secs(3600));
    assert_eq!(config.tokens.refresh_ttl, Duration::from_secs(30 * 86_400));
    assert_eq!(config.limits.max_file_bytes, 50 * MIB);
    assert!(!config.s3.force_path_style);
    assert!(config.apple_client_ids.is_empty());
    assert_eq!(config.apple_jwks_url, DEFAULT_APPLE_JWKS_URL);
    assert_eq!(
        config.require_sqs_queue_url(),
        Err(ConfigError::Missing("SQS_QUEUE_URL"))
    );
    assert_eq!(
        config.require_apns().err(),
        Some(ConfigError::Missing("APNS_KEY"))
    );
    assert_eq!(config.apns.production_url, DEFAULT_APNS_PRODUCTION_URL);
}

#[test]
fn each_required_variable_is_named_when_missing() {
    for name in ["DATABASE_URL", "S3_BUCKET", "S3_REGION", "JWT_SECRET"] {
        let mut vars = base();
        vars.remove(name);
        let err = load(&vars).err().expect("must fail");
        assert_eq!(err, ConfigError::Missing(name));
        assert!(err.to_string().contains(name));
        // Blank is the same as missing.
        vars.insert(name, "  ");
        assert_eq!(load(&vars).err(), Some(ConfigError::Missing(name)));
    }
}

/// Each (variable, value) on top of [`base`] is refused, naming that variable.
fn assert_each_invalid(cases: &[(&'static str, &'static str)]) {
    for &(name, value) in cases {
        let mut vars = base();
        vars.insert(name, value);
        match load(&vars) {
            Err(ConfigError::Invalid { name: got, .. }) => assert_eq!(got, name, "{value}"),
            other => panic!("{name}={value}: expected Invalid, got {:?}", other.err()),
        }
    }
}

#[test]
fn malformed_values_are_named() {
    let cases = [
        ("JWT_SECRET", "too-short"),
        ("DATABASE_URL", "mysql://x"),
        ("S3_BUCKET", "Not_A_Bucket"),
        ("DATABASE_MAX_CONNECTIONS", "0"),
        ("DATABASE_MAX_CONNECTIONS", "two"),
        ("S3_FORCE_PATH_STYLE", "yes please"),
        ("MAX_FILE_BYTES", "-1"),
        ("APPLE_JWKS_URL", "ftp://keys"),
        ("REFRESH_TOKEN_TTL_DAYS", "1000"),
    ];
    assert_each_invalid(&cases);
}

#[test]
fn prepared_statements_default_on_and_parse_strictly() {
    assert!(load(&base()).expect("valid").database.prepared_statements);
    for (value, expected) in [("false", false), (" true ", true), ("", true)] {
        let mut vars = base();
        vars.insert("DATABASE_PREPARED_STATEMENTS", value);
        let config = load(&vars).expect("valid");
        assert_eq!(config.database.prepared_statements, expected, "{value:?}");
    }
    for value in ["no", "0", "False", "off"] {
        let mut vars = base();
        vars.insert("DATABASE_PREPARED_STATEMENTS", value);
        assert!(
            matches!(
                load(&vars),
                Err(ConfigError::Invalid {
                    name: "DATABASE_PREPARED_STATEMENTS",
                    ..
                })
            ),
            "{value:?} must be refused"
        );
    }
}

#[test]
fn client_id_lists_are_split_and_trimmed() {
    let mut vars = base();
    vars.insert("APPLE_CLIENT_ID", "com.steel.notes, com.steel.notes.web ,");
    vars.insert("GOOGLE_CLIENT_IDS", "abc.apps.googleusercontent.com");
    vars.insert("S3_FORCE_PATH_STYLE", "true");
    vars.insert("SQS_QUEUE_URL", "http://127.0.0.1:1/q");
    let config = load(&vars).expect("valid");
    assert_eq!(
        config.apple_client_ids,
        vec!["com.steel.notes", "com.steel.notes.web"]
    );
    assert_eq!(config.google_client_ids.len(), 1);
    assert!(config.s3.force_path_style);
    assert_eq!(config.require_sqs_queue_url(), Ok("http://127.0.0.1:1/q"));
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let config = load(&base()).expect("valid");
    let shown = format!("{:?} {:?}", config.tokens.jwt_secret, config.database);
    assert!(!shown.contains("0123456789abcdef"));
    assert!(!shown.contains("postgres://"));
}

#[test]
fn the_unconfirmed_upload_allowance_holds_the_largest_file() {
    let config = load(&base()).expect("valid config");
    assert_eq!(config.limits.unconfirmed_upload_bytes, 1024 * MIB);
    let mut vars = base();
    vars.insert("MAX_FILE_BYTES", "1000");
    vars.insert("UNCONFIRMED_UPLOAD_BYTES", "1000");
    assert_eq!(
        load(&vars)
            .expect("equal is enough")
            .limits
            .unconfirmed_upload_bytes,
        1000
    );
    vars.insert("UNCONFIRMED_UPLOAD_BYTES", "999");
    assert!(matches!(
        load(&vars),
        Err(ConfigError::Invalid {
            name: "UNCONFIRMED_UPLOAD_BYTES",
            ..
        })
    ));
    for bad in ["0", "-1", "9223372036854775808", "lots"] {
        vars.insert("UNCONFIRMED_UPLOAD_BYTES", bad);
        assert!(load(&vars).is_err(), "{bad} accepted");
    }
}

#[test]
fn request_budgets_default_on_and_are_bounded() {
    let config = load(&base()).expect("valid config");
    assert_eq!(config.budgets, Some(crate::budget::Budgets::DEFAULT));
    let mut vars = base();
    vars.insert("REQUEST_BUDGETS", "false");
    assert_eq!(load(&vars).expect("valid").budgets, None);
    vars.insert("REQUEST_BUDGETS", "off");
    assert!(matches!(
        load(&vars),
        Err(ConfigError::Invalid {
            name: "REQUEST_BUDGETS",
            ..
        })
    ));
    let mut vars = base();
    vars.insert("READ_BUDGET_BURST", "5");
    vars.insert("WRITE_BUDGET_PER_MINUTE", "1");
    vars.insert("DOWNLOAD_BUDGET_BURST", "1000");
    let budgets = load(&vars).expect("valid").budgets.expect("on");
    assert_eq!((budgets.read.burst, budgets.read.per_minute), (5, 600));
    assert_eq!((budgets.write.burst, budgets.write.per_minute), (300, 1));
    assert_eq!(budgets.download.burst, 1000);
    // Each refused past its range, by name: a pull of 1,000 files must fit the download
    // bucket; nothing may be 0 or above 10,000,000.
    let cases = [
        ("READ_BUDGET_BURST", "0"),
        ("READ_BUDGET_PER_MINUTE", "0"),
        ("WRITE_BUDGET_BURST", "-1"),
        ("WRITE_BUDGET_PER_MINUTE", "10000001"),
        ("DOWNLOAD_BUDGET_BURST", "999"),
        ("DOWNLOAD_BUDGET_PER_MINUTE", "lots"),
    ];
    assert_each_invalid(&cases);
}
