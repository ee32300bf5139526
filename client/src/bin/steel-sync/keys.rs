//! `steel-sync encrypt | unlock | passphrase | recovery-code | lock`: the vault's end-to-end
//! encryption keys (README "End-to-end encryption"). Secrets are read from the terminal
//! without echo; when standard input is not a terminal (scripts, tests), one per line from it.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Args;
use steel_crypto::RecoveryCode;
use steel_sync::error::SyncError;
use steel_sync::vault_key::store::KeyStore as _;
use steel_sync::vault_key::{self, Secret, Unlocked, migrate, slots, store};
use steel_sync::{Api, Session};

#[derive(Args)]
pub struct EncryptArgs {
    vault: PathBuf,
}

#[derive(Args)]
pub struct UnlockArgs {
    vault: PathBuf,
    /// Open the vault with the recovery code instead of the passphrase.
    #[arg(long)]
    recovery_code: bool,
}

#[derive(Args)]
pub struct VaultArg {
    vault: PathBuf,
}

/// Reads secrets and answers: from the terminal without echo, or lines of standard input.
struct Prompt {
    terminal: bool,
}

impl Prompt {
    fn new() -> Self {
        Prompt {
            terminal: std::io::stdin().is_terminal(),
        }
    }

    fn read(&self, question: &str, secret: bool) -> anyhow::Result<String> {
        if self.terminal {
            if secret {
                return rpassword::prompt_password(question).context("reading from the terminal");
            }
            eprint!("{question}");
            std::io::stderr().flush()?;
        }
        let mut line = String::new();
        let n = std::io::stdin().lock().read_line(&mut line)?;
        if n == 0 {
            bail!("no answer to {question:?} (standard input ended)");
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }

    /// A new passphrase, typed twice.
    fn new_passphrase(&self) -> anyhow::Result<String> {
        let first = self.read("New passphrase: ", true)?;
        slots::check_passphrase(&first)?;
        let again = self.read("The same passphrase again: ", true)?;
        if first != again {
            bail!("the two passphrases differ; nothing was changed");
        }
        Ok(first)
    }

    /// Shows a new recovery code once and has the person type its last group back.
    fn confirm_code(&self, code: &RecoveryCode) -> anyhow::Result<()> {
        let shown = code.display();
        println!(
            "\nYour recovery code (shown once; store it somewhere safe, apart from this device):\n\n    {shown}\n\n\
             It opens the vault if the passphrase is lost. Steel Notes cannot recover either."
        );
        let last = shown.rsplit('-').next().unwrap_or_default();
        for _ in 0..3 {
            let typed = self.read(
                "Type the code's last group to confirm you stored it: ",
                false,
            )?;
            if typed.trim().eq_ignore_ascii_case(last) {
                return Ok(());
            }
            eprintln!("That is not the last group of the code above.");
        }
        bail!("the recovery code was not confirmed; nothing was changed")
    }

    /// The secret that opens the vault now.
    fn current(&self, recovery_code: bool) -> anyhow::Result<Current> {
        if recovery_code {
            let typed = self.read("Recovery code: ", true)?;
            Ok(Current::Code(RecoveryCode::parse(&typed)?))
        } else {
            Ok(Current::Passphrase(self.read("Passphrase: ", true)?))
        }
    }
}

/// An owned [`Secret`].
enum Current {
    Passphrase(String),
    Code(RecoveryCode),
}

impl Current {
    fn secret(&self) -> Secret<'_> {
        match self {
            Current::Passphrase(p) => Secret::Passphrase(p),
            Current::Code(c) => Secret::RecoveryCode(c),
        }
    }
}

fn signed_in(vault: &Path) -> anyhow::Result<(Api, Session)> {
    let session = Session::load(vault)?;
    Ok((
        Api::new(session.clone(), Some(vault.to_path_buf())),
        session,
    ))
}

/// Keeps the unlocked key on this device and says where.
fn keep(vault: &Path, session: &Session, unlocked: &Unlocked) -> anyhow::Result<()> {
    let (kept_in, warn) = store::store_for(vault, &session.api_url, &session.user_id);
    store::keep(kept_in.as_ref(), &session.user_id, unlocked)?;
    println!("The vault key is kept in {}.", kept_in.describe());
    if warn {
        eprintln!(
            "steel-sync: warning: no system keyring answered (no Keychain, Credential Manager or \
             Secret Service): the key is in a file that anyone who can read your files as you \
             can read. `steel-sync lock` removes it."
        );
    }
    Ok(())
}

pub async fn encrypt(args: EncryptArgs) -> anyhow::Result<ExitCode> {
    let (api, session) = signed_in(&args.vault)?;
    let current = vault_key::read(&api).await?;
    if current.encrypted {
        bail!("this account is already end-to-end encrypted: run `steel-sync unlock`");
    }
    let prompt = Prompt::new();
    if current.migrating {
        // An earlier run (on this device or another) started: finish it with its passphrase.
        println!(
            "Encryption of this vault was started and not finished; enter its passphrase to \
             finish it."
        );
        let secret = prompt.current(false)?;
        let unlocked = vault_key::unlock(&api, &secret.secret()).await?;
        return finish_migration(&api, &args.vault, &session, &unlocked).await;
    }
    let passphrase = prompt.new_passphrase()?;
    let new = slots::new_vault(
        &passphrase,
        vault_key::kdf_params(),
        &mut vault_key::os_rng()?,
    )?;
    prompt.confirm_code(&new.code)?;
    match vault_key::set_up(&api, &new).await {
        Ok(_) => {}
        Err(SyncError::Api { code, .. }) if code == "vault_not_empty" => {
            // A vault with notes: every note is encrypted and uploaded again, then the
            // server switches the account over (README "Turning encryption on for an
            // existing vault"). Until then every device syncs it in plaintext.
            api.start_migration("\"v0\"", &new.request).await?;
            let unlocked = vault_key::unlock(&api, &Secret::Passphrase(&passphrase)).await?;
            return finish_migration(&api, &args.vault, &session, &unlocked).await;
        }
        Err(e) => return Err(e.into()),
    }
    let unlocked = vault_key::unlock(&api, &Secret::Passphrase(&passphrase)).await?;
    keep(&args.vault, &session, &unlocked)?;
    println!("The account is end-to-end encrypted.");
    Ok(ExitCode::SUCCESS)
}

/// Stages every note encrypted and switches the account; a rerun of `encrypt` resumes. The
/// key is kept on this device only once the account is encrypted: until then this device
/// syncs in plaintext like every other.
async fn finish_migration(
    api: &Api,
    vault: &Path,
    session: &Session,
    unlocked: &Unlocked,
) -> anyhow::Result<ExitCode> {
    println!("Encrypting the vault's notes and uploading them again...");
    let migrated = migrate::migrate(api, &unlocked.keys).await;
    if migrated.is_ok() {
        keep(vault, session, unlocked)?;
    }
    match migrated {
        Ok(migrate::Migrated::Switched(done)) => println!(
            "The account is end-to-end encrypted: {} notes. Other devices must run `steel-sync \
             unlock` before they sync again; the old plaintext is deleted from the server \
             (README, \"Turning encryption on for an existing vault\").",
            done.notes
        ),
        Ok(migrate::Migrated::AlreadyEncrypted) => {
            println!("The account is end-to-end encrypted.")
        }
        Err(e) => bail!(
            "{e}\nThe vault is not encrypted yet and syncs in plaintext meanwhile: run `steel-sync \
             encrypt` again to finish (it resumes where this run stopped)."
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn unlock(args: UnlockArgs) -> anyhow::Result<ExitCode> {
    let (api, session) = signed_in(&args.vault)?;
    let current = Prompt::new().current(args.recovery_code)?;
    let unlocked = vault_key::unlock(&api, &current.secret()).await?;
    keep(&args.vault, &session, &unlocked)?;
    println!("Unlocked.");
    Ok(ExitCode::SUCCESS)
}

pub async fn passphrase(args: UnlockArgs) -> anyhow::Result<ExitCode> {
    let (api, session) = signed_in(&args.vault)?;
    let prompt = Prompt::new();
    let current = prompt.current(args.recovery_code)?;
    let new = prompt.new_passphrase()?;
    let unlocked = vault_key::change_passphrase(&api, &current.secret(), &new).await?;
    keep(&args.vault, &session, &unlocked)?;
    println!("The passphrase is changed; the old one no longer opens the vault.");
    Ok(ExitCode::SUCCESS)
}

pub async fn recovery_code(args: UnlockArgs) -> anyhow::Result<ExitCode> {
    let (api, session) = signed_in(&args.vault)?;
    let prompt = Prompt::new();
    let current = prompt.current(args.recovery_code)?;
    // Check the secret before showing a code that could not be installed.
    vault_key::unlock(&api, &current.secret()).await?;
    let code = RecoveryCode::generate(&mut vault_key::os_rng()?);
    prompt.confirm_code(&code)?;
    let unlocked = vault_key::replace_recovery_code(&api, &current.secret(), &code).await?;
    keep(&args.vault, &session, &unlocked)?;
    println!("The recovery code is replaced; the old one no longer opens the vault.");
    Ok(ExitCode::SUCCESS)
}

pub async fn lock(args: VaultArg) -> anyhow::Result<ExitCode> {
    let session = Session::load(&args.vault)?;
    let (kept_in, _) = store::store_for(&args.vault, &session.api_url, &session.user_id);
    kept_in.clear()?;
    // A key left in the file by an earlier run without a keyring goes too.
    store::FileKeyStore::new(&args.vault).clear()?;
    println!("Locked: this device no longer keeps the vault key.");
    Ok(ExitCode::SUCCESS)
}
