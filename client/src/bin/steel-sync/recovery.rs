//! `steel-sync history | deleted | restore | rewind`: getting notes back from the server.
//! Human output by default; `--json` prints the server's answers for scripts. A restore or
//! rewind changes the server; the next `steel-sync sync` brings the result to this folder.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};
use steel_sync::store::Store;
use steel_sync::sync::recovered::{begin_recovery, remember_recovery};
use steel_sync::{Api, Session};

#[derive(Args)]
pub struct HistoryArgs {
    vault: PathBuf,
    /// The note's path in the vault, e.g. `thoughts/Idea.md`.
    path: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct DeletedArgs {
    vault: PathBuf,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RestoreArgs {
    vault: PathBuf,
    path: String,
    /// The version to bring back (default: the last version with content).
    #[arg(long)]
    version: Option<i64>,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RewindArgs {
    vault: PathBuf,
    /// The moment to go back to, RFC 3339 (`2026-12-03T09:00:00Z`).
    #[arg(long)]
    to: String,
    /// Only this folder (`thoughts`).
    #[arg(long)]
    folder: Option<String>,
    /// Delete the notes created after that moment (they stay restorable).
    #[arg(long)]
    remove_newer: bool,
    #[arg(long)]
    json: bool,
}

fn api(vault: &std::path::Path) -> anyhow::Result<Api> {
    let session = Session::load(vault)?;
    let api = Api::new(session.clone(), Some(vault.to_path_buf()));
    crate::with_vault_key(vault, &session, api)
}

fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn device(v: &Value) -> String {
    v["device_name"].as_str().unwrap_or("no device").to_owned()
}

pub async fn history(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let versions = api(&args.vault)?.history(&args.path).await?;
    if args.json {
        print_json(&json!({"path": args.path, "versions": versions}))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}: {} versions, newest first", args.path, versions.len());
    for v in &versions {
        let what = if v["is_deleted"].as_bool() == Some(true) {
            "deleted".to_owned()
        } else {
            format!("{} bytes", v["size_bytes"])
        };
        println!(
            "  v{:<5} {}  {:<14} by {}",
            v["version"],
            v["created_at"].as_str().unwrap_or("?"),
            what,
            device(&v["device"])
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn deleted(args: DeletedArgs) -> anyhow::Result<ExitCode> {
    let files = api(&args.vault)?.deleted().await?;
    if args.json {
        print_json(&json!({ "files": files }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} deleted notes, most recent first", files.len());
    for f in &files {
        let last = &f["last_version"];
        let back = if last["restorable"].as_bool() == Some(false) {
            "its content is no longer stored".to_owned()
        } else {
            format!("restore brings back v{}", last["version"])
        };
        println!(
            "  {}  deleted {} by {}; {back}",
            f["path"].as_str().unwrap_or("?"),
            f["deleted_at"].as_str().unwrap_or("?"),
            device(&f["deleted_by"])
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let api = api(&args.vault)?;
    let versions = api.history(&args.path).await?;
    let Some(head) = versions.first().and_then(|v| v["version"].as_i64()) else {
        anyhow::bail!("{}: the server has no versions of this note", args.path);
    };
    let version = match args.version {
        Some(v) => v,
        None => versions
            .iter()
            .find(|v| v["is_deleted"].as_bool() == Some(false))
            .and_then(|v| v["version"].as_i64())
            .ok_or_else(|| anyhow::anyhow!("{}: no version with content", args.path))?,
    };
    let store = Store::open(&args.vault)?;
    begin_recovery(&store)?;
    let answer = api.restore(&args.path, version, head).await?;
    if args.json {
        print_json(&answer)?;
    }
    if let Some(done) = answer["restored"].as_array().and_then(|r| r.first()) {
        remember_recovery(&api, &store).await?;
        if !args.json {
            println!(
                "restored: {} is now v{} with the content of v{}; sync to get it here",
                args.path, done["version"], done["restored_from"]
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Refused: say why (a conflict means someone changed the note meanwhile: try again).
    for r in answer["rejected"].as_array().into_iter().flatten() {
        eprintln!("refused: {}: {} ({})", r["path"], r["message"], r["code"]);
    }
    for c in answer["conflicts"].as_array().into_iter().flatten() {
        eprintln!(
            "conflict: {} changed on the server meanwhile (now v{}); run restore again",
            args.path, c["server_version"]
        );
    }
    if answer["not_found"]
        .as_array()
        .is_some_and(|n| !n.is_empty())
    {
        eprintln!("not found: {} has no version {version}", args.path);
    }
    Ok(ExitCode::from(2))
}

pub async fn rewind(args: RewindArgs) -> anyhow::Result<ExitCode> {
    let prefix = args.folder.as_deref();
    let api = api(&args.vault)?;
    let store = Store::open(&args.vault)?;
    begin_recovery(&store)?;
    let pages = api.rewind(&args.to, prefix, args.remove_newer).await?;
    remember_recovery(&api, &store).await?;
    let sum = |key: &str| pages.iter().filter_map(|p| p[key].as_u64()).sum::<u64>();
    let skipped: Vec<&Value> = pages
        .iter()
        .flat_map(|p| p["skipped"].as_array().into_iter().flatten())
        .collect();
    let totals = json!({"restored": sum("restored"), "deleted": sum("deleted"),
                        "unchanged": sum("unchanged"), "kept_newer": sum("kept_newer"),
                        "skipped": skipped, "pages": pages.len()});
    if args.json {
        print_json(&totals)?;
    } else {
        println!(
            "rewound {} to {}: {} notes restored, {} deleted, {} already as they were, {} newer kept; sync to get the result here",
            prefix.unwrap_or("the vault"),
            args.to,
            totals["restored"],
            totals["deleted"],
            totals["unchanged"],
            totals["kept_newer"]
        );
        for s in &skipped {
            println!(
                "  left as it is: {}: {} ({})",
                s["path"], s["message"], s["code"]
            );
        }
    }
    Ok(if skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
