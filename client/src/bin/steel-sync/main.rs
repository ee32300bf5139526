//! `steel-sync`: sync a folder of Markdown notes with Steel Notes Sync.
//!
//! ```text
//! steel-sync login   <vault> --dev-token TOKEN   [--api URL] [--device-name NAME]
//! steel-sync sync    <vault> [--folders a,b | --all] [--allow-mass-delete | --restore-missing]
//! steel-sync status  <vault>
//! steel-sync watch   <vault> [--interval SECS]
//! steel-sync history <vault> <path> [--json]
//! steel-sync deleted <vault> [--json]
//! steel-sync restore <vault> <path> [--version N] [--json]
//! steel-sync rewind  <vault> --to <RFC 3339> [--folder F] [--remove-newer] [--json]
//! steel-sync encrypt <vault>
//! steel-sync unlock  <vault> [--recovery-code]
//! steel-sync passphrase <vault> [--recovery-code]
//! steel-sync recovery-code <vault> [--recovery-code]
//! steel-sync lock    <vault>
//! ```
//! Exit status: 0 done, 1 failed (the message says why; the next sync resumes), 2 done but
//! the server refused some files (listed), 3 done but a mass delete was held back (the
//! message says how to go on).

mod keys;
mod recovery;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use steel_sync::crypt::Crypt;
use steel_sync::store::{Store, SyncStatus};
use steel_sync::sync::guard::MissingNotes;
use steel_sync::vault_key;
use steel_sync::{Api, Progress, ScanConfig, Session, SyncReport, Syncer, scan};

#[derive(Parser)]
#[command(
    name = "steel-sync",
    version,
    about = "Sync a folder of Markdown notes with Steel Notes Sync"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign this vault in (stores tokens in <vault>/.steel/auth.json).
    Login(LoginArgs),
    /// Sync the vault once.
    Sync(SyncArgs),
    /// What would sync: local changes and the last sync.
    Status(SyncArgs),
    /// Sync on every change (2 s debounce) and every --interval seconds.
    Watch {
        #[command(flatten)]
        sync: SyncArgs,
        #[arg(long, default_value_t = 60)]
        interval: u64,
    },
    /// The versions of one note the server keeps.
    History(recovery::HistoryArgs),
    /// The deleted notes the server can bring back.
    Deleted(recovery::DeletedArgs),
    /// Bring back a version of a note (a deleted note, or an older version of a live one).
    Restore(recovery::RestoreArgs),
    /// Take the vault (or a folder) back to how it was at a moment; undone by another rewind.
    Rewind(recovery::RewindArgs),
    /// Turn on end-to-end encryption: a passphrase, and a recovery code shown once.
    Encrypt(keys::EncryptArgs),
    /// Open an encrypted vault on this device (passphrase or recovery code).
    Unlock(keys::UnlockArgs),
    /// Change the passphrase (asks for the current one, or the recovery code).
    Passphrase(keys::UnlockArgs),
    /// Replace the recovery code; the old one stops working.
    RecoveryCode(keys::UnlockArgs),
    /// Forget the vault key on this device (unlock again to sync).
    Lock(keys::VaultArg),
}

#[derive(Args)]
struct LoginArgs {
    vault: PathBuf,
    /// API base URL.
    #[arg(long, env = "STEEL_API_URL", default_value = "http://127.0.0.1:9000")]
    api: String,
    /// A development identity token (`cargo run --bin dev-token`).
    #[arg(long, group = "token")]
    dev_token: Option<String>,
    /// A Sign in with Apple identity token.
    #[arg(long, group = "token")]
    apple_token: Option<String>,
    /// A Google identity token.
    #[arg(long, group = "token")]
    google_token: Option<String>,
    #[arg(long)]
    device_name: Option<String>,
    #[arg(long, default_value = "macos")]
    platform: String,
}

#[derive(Args)]
struct SyncArgs {
    vault: PathBuf,
    /// Top-level folders to sync (default: sources, thoughts, questions, syntheses); remembered.
    #[arg(long, value_delimiter = ',')]
    folders: Option<Vec<String>>,
    /// Sync every note in the vault; remembered.
    #[arg(long, conflicts_with = "folders")]
    all: bool,
    /// No progress lines.
    #[arg(long, short)]
    quiet: bool,
    /// After the sync, print the wall time, HTTP requests and bytes transferred.
    #[arg(long)]
    stats: bool,
    /// Delete on the server the notes missing here, even when that many look like an accident.
    #[arg(long)]
    allow_mass_delete: bool,
    /// Bring back from the server the notes missing here instead of deleting them there.
    #[arg(long, conflicts_with = "allow_mass_delete")]
    restore_missing: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Login(args) => login(args).await,
        Command::Sync(args) => sync_once(&args).await,
        Command::Status(args) => status(&args).await,
        Command::Watch { sync, interval } => watch(&sync, interval).await,
        Command::History(args) => recovery::history(args).await,
        Command::Deleted(args) => recovery::deleted(args).await,
        Command::Restore(args) => recovery::restore(args).await,
        Command::Rewind(args) => recovery::rewind(args).await,
        Command::Encrypt(args) => keys::encrypt(args).await,
        Command::Unlock(args) => keys::unlock(args).await,
        Command::Passphrase(args) => keys::passphrase(args).await,
        Command::RecoveryCode(args) => keys::recovery_code(args).await,
        Command::Lock(args) => keys::lock(args).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("steel-sync: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let (provider, token) = match (args.dev_token, args.apple_token, args.google_token) {
        (Some(t), None, None) | (None, Some(t), None) => ("apple", t),
        (None, None, Some(t)) => ("google", t),
        _ => anyhow::bail!("give one of --dev-token, --apple-token or --google-token"),
    };
    std::fs::create_dir_all(&args.vault)?;
    let device_name = args.device_name.unwrap_or_else(default_device_name);
    let session = Api::login(&args.api, provider, &token, &device_name, &args.platform).await?;
    session.save(&args.vault)?;
    println!(
        "signed in: user {}, device {} ({device_name}) at {}",
        session.user_id,
        session.device_id.as_deref().unwrap_or("-"),
        session.api_url
    );
    Ok(ExitCode::SUCCESS)
}

fn default_device_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "steel-sync".to_owned())
}

/// The folders to sync: from the flags (and remembered), else as remembered, else the seed's.
fn scan_config(args: &SyncArgs, store: &Store) -> anyhow::Result<ScanConfig> {
    let chosen = if args.all {
        Some("*".to_owned())
    } else {
        args.folders.as_ref().map(|f| f.join(","))
    };
    if let Some(value) = &chosen {
        store.set_meta("folders", value)?;
    }
    Ok(ScanConfig::from_stored(
        chosen.or(store.meta("folders")?).as_deref(),
    ))
}

/// When the scan ended (with the notes it found and how many it had to read), when the
/// first plan was made (the server's changes read and classified), and when the first plan's
/// bytes were all uploaded or downloaded (the rest, to the end, is writing notes and
/// recording them), for `--stats`. The scan and the server's changes are read side by side:
/// the two overlap.
#[derive(Debug, Default)]
struct Phases {
    scanned: Option<(Instant, usize, usize)>,
    planned: Option<Instant>,
    transferred: Option<Instant>,
}

/// The API client of a vault: through the unlocked vault key when this device holds one (an
/// encrypted account); a device without it syncs in plaintext, which an encrypted account's
/// answers refuse with a message saying to unlock.
fn with_vault_key(vault: &Path, session: &Session, api: Api) -> anyhow::Result<Api> {
    let (kept_in, _) = vault_key::store::store_for(vault, &session.api_url, &session.user_id);
    Ok(
        match vault_key::store::open_kept(kept_in.as_ref(), &session.user_id)? {
            Some(unlocked) => {
                let crypt = Crypt::new(unlocked.keys, Some(Store::open(vault)?))?;
                api.with_crypt(Arc::new(crypt))
            }
            None => api,
        },
    )
}

fn open_syncer(args: &SyncArgs) -> anyhow::Result<(Syncer, Arc<Mutex<Phases>>)> {
    let vault = &args.vault;
    if !vault.is_dir() {
        anyhow::bail!("{} is not a folder", vault.display());
    }
    let session = Session::load(vault)?;
    let device_name = session.device_name.clone();
    let config = scan_config(args, &Store::open(vault)?)?;
    let api = with_vault_key(
        vault,
        &session,
        Api::new(session.clone(), Some(vault.to_path_buf())),
    )?;
    let mut syncer = Syncer::open(vault, api, &device_name, config)?;
    syncer.set_missing_notes(if args.allow_mass_delete {
        MissingNotes::DeleteAll
    } else if args.restore_missing {
        MissingNotes::Restore
    } else {
        MissingNotes::Guarded
    });
    let phases = Arc::new(Mutex::new(Phases::default()));
    let (quiet, tty, seen) = (args.quiet, std::io::stderr().is_terminal(), phases.clone());
    syncer.on_progress(move |p| {
        let mut phases = seen.lock().unwrap_or_else(|e| e.into_inner());
        match p {
            Progress::Scanned { files, read } => {
                phases.scanned = Some((Instant::now(), *files, *read));
            }
            Progress::Changes { .. } => phases.planned = Some(Instant::now()),
            Progress::Uploaded { done, total } | Progress::Downloaded { done, total }
                if done == total =>
            {
                phases.transferred.get_or_insert_with(Instant::now);
            }
            _ => {}
        }
        if !quiet {
            print_progress(p, tty);
        }
    });
    Ok((syncer, phases))
}

fn print_progress(p: &Progress, tty: bool) {
    let (what, done, total) = match p {
        Progress::Scanned { files, read } => {
            eprintln!(
                "scanned {files} notes ({read} read, the rest unchanged since the last scan)"
            );
            return;
        }
        Progress::Changes { remote, actions } => {
            if *actions > 0 {
                eprintln!("{remote} changes on the server, {actions} files to sync");
            }
            return;
        }
        Progress::Uploaded { done, total } => ("uploaded", *done, *total),
        Progress::Downloaded { done, total } => ("downloaded", *done, *total),
    };
    // Every file on a terminal; every 10% (and the last) otherwise.
    if tty {
        eprint!("\r{what} {done}/{total}");
        if done == total {
            eprintln!();
        }
    } else if total < 20 || done == total || done % (total / 10).max(1) == 0 {
        eprintln!("{what} {done}/{total}");
    }
}

async fn sync_once(args: &SyncArgs) -> anyhow::Result<ExitCode> {
    let (mut syncer, phases) = open_syncer(args)?;
    let started = Instant::now();
    let report = syncer.sync().await?;
    let code = print_report(&report);
    if args.stats {
        let (api, s3, sent, received) = syncer.api().stats.snapshot();
        let secs = |from: Instant, to: Instant| to.duration_since(from).as_secs_f64();
        // The first plan's steps, from the start of the sync.
        let phases = phases.lock().unwrap_or_else(|e| e.into_inner());
        let breakdown = match (phases.scanned, phases.planned) {
            (Some((scanned, files, read)), Some(planned)) => format!(
                "; scanned at {:.3} s ({read} of {files} notes read), planned at {:.3} s{}",
                secs(started, scanned),
                secs(started, planned),
                phases.transferred.map_or(String::new(), |at| format!(
                    ", bytes transferred at {:.3} s",
                    secs(started, at)
                ))
            ),
            _ => String::new(),
        };
        println!(
            "stats: {:.3} s, {} requests (api {api}, s3 {s3}), {sent} bytes sent, {received} bytes received{breakdown}",
            started.elapsed().as_secs_f64(),
            api + s3
        );
    }
    // The process ends here: an encrypted vault's maps of every note are not freed one by one.
    syncer.api().leak_caches_at_exit();
    Ok(code)
}

fn print_report(report: &SyncReport) -> ExitCode {
    if let Some(message) = report.rate_limited_message() {
        println!("{message}");
    }
    for (path, copy) in &report.conflict_copies {
        println!("conflict: {path}: both sides changed it; yours is kept as {copy}");
    }
    for path in &report.merged {
        println!("merged: {path}: both sides' changes combined");
    }
    for path in &report.deferred {
        println!("changed during the sync, left for the next one: {path}");
    }
    for r in &report.rejected {
        println!("refused: {}: {} ({})", r.path, r.message, r.code);
    }
    println!("sync done: {}", report.summary());
    if let Some(message) = report.held_message() {
        println!("{message}");
        return ExitCode::from(3);
    }
    if report.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

async fn status(args: &SyncArgs) -> anyhow::Result<ExitCode> {
    let vault = &args.vault;
    let store = Store::open(vault)?;
    let config = scan_config(args, &store)?;
    let session = Session::load(vault).ok();
    let found = scan::scan(vault, &config)?;
    let rows = store.rows()?;
    let (mut added, mut modified, mut deleted, mut refused) = (vec![], vec![], vec![], vec![]);
    for (path, file) in &found.files {
        match rows.get(path) {
            Some(r) if r.sync_status == SyncStatus::Rejected => {
                if r.content_hash.as_deref() == Some(file.hash.as_str()) {
                    refused.push(path)
                } else {
                    added.push(path)
                }
            }
            Some(r) if r.base().is_some_and(|b| b.hash == file.hash) => {}
            Some(_) => modified.push(path),
            None => added.push(path),
        }
    }
    for (path, row) in &rows {
        if row.base().is_some() && !found.files.contains_key(path) && config.includes(path) {
            deleted.push(path);
        }
    }
    match &session {
        Some(s) => println!(
            "vault {} — {} as {}",
            vault.display(),
            s.api_url,
            s.device_name
        ),
        None => println!("vault {} — not signed in", vault.display()),
    }
    println!(
        "{} notes, {} in sync; cursor {}",
        found.files.len(),
        rows.values().filter(|r| r.base().is_some()).count(),
        store.meta("cursor")?.as_deref().unwrap_or("(never synced)")
    );
    for (label, list) in [
        ("new", &added),
        ("modified", &modified),
        ("deleted", &deleted),
        ("refused by the server", &refused),
    ] {
        for path in list.iter() {
            println!("  {label}: {path}");
        }
    }
    for (path, why) in &found.ignored {
        println!("  not synced: {}: {why}", path.display());
    }
    if added.is_empty() && modified.is_empty() && deleted.is_empty() {
        println!("nothing to push");
    }
    if let Some(last) = store.recent_log(1)?.pop() {
        println!("last change synced at {} ({})", last.at, last.entry.action);
    }
    Ok(ExitCode::SUCCESS)
}

fn watched(path: &Path) -> bool {
    !path
        .components()
        .any(|c| c.as_os_str().to_str().is_some_and(|s| s.starts_with('.')))
}

async fn watch(args: &SyncArgs, interval: u64) -> anyhow::Result<ExitCode> {
    use notify_debouncer_mini::{new_debouncer, notify::RecursiveMode};
    let (mut syncer, _) = open_syncer(args)?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let vault = std::fs::canonicalize(&args.vault)?;
    let root = vault.clone();
    let mut debouncer = new_debouncer(Duration::from_secs(2), move |events| {
        if let Ok(events) = events {
            let events: Vec<notify_debouncer_mini::DebouncedEvent> = events;
            if events
                .iter()
                .any(|e| watched(e.path.strip_prefix(&root).unwrap_or(&e.path)))
            {
                let _ = tx.send(());
            }
        }
    })?;
    debouncer
        .watcher()
        .watch(&vault, RecursiveMode::Recursive)?;
    println!(
        "watching {} (sync on change, and every {interval} s); Ctrl-C stops",
        vault.display()
    );
    let mut tick = tokio::time::interval(Duration::from_secs(interval.max(5)));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            Some(()) = rx.recv() => {}
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        }
        match syncer.sync().await {
            Ok(report) => {
                print_report(&report);
            }
            // Keep watching: the next change or tick tries again.
            Err(e) => eprintln!("steel-sync: sync failed: {e}"),
        }
    }
}
