//! What a device does with an account's key slots, as pure functions over the server's
//! answer (README "Key slots"): seal the first set for a new encrypted vault, open a slot
//! with a passphrase or the recovery code, and replace the slot of one kind while keeping
//! every other slot and the keyring. No I/O: `vault_key::update` sends the results.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_core::CryptoRng;
use steel_crypto::{KdfParams, KdfPolicy, KeySlot, RecoveryCode, SlotKind, VaultKey, VaultKeys};
use steel_protocol::wire::{KeySlotEntry, KeySlotKind, KeysAnswer, PutKeysRequest};

use crate::error::{Result, SyncError};

/// Shortest passphrase `encrypt` and `passphrase` accept, in characters.
pub const MIN_PASSPHRASE_CHARS: usize = 10;

/// What opens a vault.
pub enum Secret<'a> {
    Passphrase(&'a str),
    RecoveryCode(&'a RecoveryCode),
}

impl Secret<'_> {
    fn kind(&self) -> SlotKind {
        match self {
            Secret::Passphrase(_) => SlotKind::Passphrase,
            Secret::RecoveryCode(_) => SlotKind::RecoveryCode,
        }
    }
}

/// An opened vault: its key, the generation that key belongs to, the keyring it was opened
/// with (for the device's key store) and every key derived from them.
pub struct Unlocked {
    pub vk: VaultKey,
    pub generation: u32,
    pub keyring: Option<Vec<u8>>,
    pub keys: VaultKeys,
}

/// A new encrypted vault: its key, the recovery code to show once, and the first PUT.
pub struct NewVault {
    pub vk: VaultKey,
    pub code: RecoveryCode,
    pub request: PutKeysRequest,
}

/// Refuses a passphrase too short to be one.
pub fn check_passphrase(passphrase: &str) -> Result<()> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(SyncError::Other(format!(
            "a passphrase has at least {MIN_PASSPHRASE_CHARS} characters"
        )));
    }
    Ok(())
}

/// A new vault key (generation 0), sealed in a passphrase slot and a recovery-code slot.
pub fn new_vault(
    passphrase: &str,
    params: KdfParams,
    rng: &mut impl CryptoRng,
) -> Result<NewVault> {
    let code = RecoveryCode::generate(rng);
    new_vault_with_code(passphrase, code, params, rng)
}

/// [`new_vault`] with a recovery code made (and shown to the person) beforehand: the apps
/// show the code, have it confirmed, and only then set the vault up.
pub fn new_vault_with_code(
    passphrase: &str,
    code: RecoveryCode,
    params: KdfParams,
    rng: &mut impl CryptoRng,
) -> Result<NewVault> {
    check_passphrase(passphrase)?;
    let vk = steel_crypto::SecretKey::generate(rng);
    let pass = KeySlot::seal_passphrase(&vk, 0, passphrase, params, rng).map_err(crypto)?;
    let recovery = KeySlot::seal_recovery(&vk, 0, &code, rng);
    Ok(NewVault {
        request: PutKeysRequest {
            slots: vec![entry_of(&pass), entry_of(&recovery)],
            keyring: None,
        },
        vk,
        code,
    })
}

/// The wire form of a slot.
pub fn entry_of(slot: &KeySlot) -> KeySlotEntry {
    KeySlotEntry {
        id: hex::encode(slot.id),
        kind: match slot.kind {
            SlotKind::Passphrase => KeySlotKind::Passphrase,
            SlotKind::RecoveryCode => KeySlotKind::RecoveryCode,
        },
        slot: STANDARD.encode(slot.to_bytes()),
    }
}

/// Reads an answer's slots; an entry whose id or kind disagrees with its own bytes is refused.
pub fn parse_slots(answer: &KeysAnswer) -> Result<Vec<KeySlot>> {
    answer
        .slots
        .iter()
        .map(|entry| {
            let bytes = STANDARD
                .decode(&entry.slot)
                .map_err(|_| tampered("a key slot is not base64"))?;
            let slot = KeySlot::parse(&bytes).map_err(crypto)?;
            if hex::encode(slot.id) != entry.id || entry_of(&slot).kind != entry.kind {
                return Err(tampered("a key slot's id or kind disagrees with its bytes"));
            }
            Ok(slot)
        })
        .collect()
}

/// The keyring of an answer, as bytes.
fn keyring_of(answer: &KeysAnswer) -> Result<Option<Vec<u8>>> {
    answer
        .keyring
        .as_deref()
        .map(|k| {
            STANDARD
                .decode(k)
                .map_err(|_| tampered("the keyring is not base64"))
        })
        .transpose()
}

/// Opens the vault with `secret`: the first slot of its kind that it opens. A wrong
/// passphrase or code is the crypto crate's `WrongPassphrase` / `WrongRecoveryCode`.
pub fn unlock(answer: &KeysAnswer, secret: &Secret<'_>, policy: &KdfPolicy) -> Result<Unlocked> {
    // A migrating account's slots open too: the device finishing the migration needs them.
    if !answer.encrypted && !answer.migrating {
        return Err(SyncError::Other(
            "this account is not end-to-end encrypted (run `steel-sync encrypt`)".into(),
        ));
    }
    let slots = parse_slots(answer)?;
    let keyring = keyring_of(answer)?;
    let mut last = None;
    for slot in slots.iter().filter(|s| s.kind == secret.kind()) {
        let opened = match secret {
            Secret::Passphrase(p) => slot.open_passphrase(p, policy),
            Secret::RecoveryCode(c) => slot.open_recovery(c),
        };
        match opened {
            Ok(vk) => {
                let keys =
                    VaultKeys::open(&vk, slot.generation, keyring.as_deref()).map_err(crypto)?;
                return Ok(Unlocked {
                    vk,
                    generation: slot.generation,
                    keyring,
                    keys,
                });
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => crypto(e),
        None => SyncError::Other(format!(
            "the account has no {} slot",
            match secret.kind() {
                SlotKind::Passphrase => "passphrase",
                SlotKind::RecoveryCode => "recovery-code",
            }
        )),
    })
}

/// The PUT that replaces every slot of `slot`'s kind with `slot`, keeping the other slots
/// (in their order) and the keyring.
pub fn replace_kind(answer: &KeysAnswer, slot: &KeySlot) -> PutKeysRequest {
    let entry = entry_of(slot);
    let mut slots: Vec<KeySlotEntry> = answer
        .slots
        .iter()
        .filter(|e| e.kind != entry.kind)
        .cloned()
        .collect();
    slots.push(entry);
    PutKeysRequest {
        slots,
        keyring: answer.keyring.clone(),
    }
}

fn crypto(e: steel_crypto::CryptoError) -> SyncError {
    SyncError::Crypto(e)
}

fn tampered(why: &'static str) -> SyncError {
    SyncError::Crypto(steel_crypto::CryptoError::Malformed {
        what: "key slots from the server",
        why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;
    use steel_crypto::CryptoError;

    /// The cheapest parameters every reader accepts: the tests run Argon2id many times.
    const CHEAP: KdfParams = KdfPolicy::DEFAULT.floor;
    const PASS: &str = "correct horse battery";

    fn answer_of(request: &PutKeysRequest) -> KeysAnswer {
        KeysAnswer {
            encrypted: true,
            migrating: false,
            slots: request.slots.clone(),
            keyring: request.keyring.clone(),
            etag: "\"v1\"".into(),
        }
    }

    fn new(seed: u8) -> (NewVault, KeysAnswer) {
        let vault = new_vault(PASS, CHEAP, &mut ChaCha20Rng::from_seed([seed; 32])).unwrap();
        let answer = answer_of(&vault.request);
        (vault, answer)
    }

    fn opened(answer: &KeysAnswer, secret: Secret<'_>) -> Result<[u8; 32]> {
        unlock(answer, &secret, &KdfPolicy::DEFAULT).map(|u| *u.vk.expose())
    }

    #[test]
    fn a_new_vault_opens_with_its_passphrase_and_its_code_only() {
        let (vault, answer) = new(1);
        let vk = *vault.vk.expose();
        assert_eq!(answer.slots.len(), 2);
        assert_eq!(opened(&answer, Secret::Passphrase(PASS)).unwrap(), vk);
        // The passphrase is NFC-normalised: an NFD keyboard opens what an NFC one sealed.
        let accented = new_vault(
            "caf\u{e9} au lait!",
            CHEAP,
            &mut ChaCha20Rng::from_seed([2; 32]),
        )
        .unwrap();
        let nfd = opened(
            &answer_of(&accented.request),
            Secret::Passphrase("cafe\u{301} au lait!"),
        );
        assert_eq!(nfd.unwrap(), *accented.vk.expose());
        assert_eq!(
            opened(&answer, Secret::RecoveryCode(&vault.code)).unwrap(),
            vk
        );
        let typed = RecoveryCode::parse(&vault.code.display().to_lowercase()).unwrap();
        assert_eq!(opened(&answer, Secret::RecoveryCode(&typed)).unwrap(), vk);
        let other = RecoveryCode::generate(&mut ChaCha20Rng::from_seed([9; 32]));
        let cases: Vec<(Secret<'_>, CryptoError)> = vec![
            (
                Secret::Passphrase("correct horse battery "),
                CryptoError::WrongPassphrase,
            ),
            (Secret::Passphrase(""), CryptoError::WrongPassphrase),
            (Secret::RecoveryCode(&other), CryptoError::WrongRecoveryCode),
        ];
        for (secret, want) in cases {
            match opened(&answer, secret) {
                Err(SyncError::Crypto(got)) => assert_eq!(got, want),
                other => panic!("expected {want:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn short_passphrases_and_plaintext_accounts_are_refused() {
        for short in ["", "123456789", "ñññññññññ"] {
            assert!(check_passphrase(short).is_err(), "{short:?}");
            assert!(new_vault(short, CHEAP, &mut ChaCha20Rng::from_seed([3; 32])).is_err());
        }
        assert!(check_passphrase("1234567890").is_ok());
        let plaintext = KeysAnswer {
            encrypted: false,
            migrating: false,
            slots: vec![],
            keyring: None,
            etag: "\"v0\"".into(),
        };
        let e = opened(&plaintext, Secret::Passphrase(PASS)).unwrap_err();
        assert!(e.to_string().contains("not end-to-end encrypted"), "{e}");
    }

    #[test]
    fn slots_whose_label_disagrees_with_their_bytes_are_refused() {
        let (_, answer) = new(4);
        let mut relabelled = answer.clone();
        relabelled.slots[0].kind = KeySlotKind::RecoveryCode;
        let mut renamed = answer.clone();
        renamed.slots[1].id = "00".repeat(16);
        let mut garbled = answer.clone();
        garbled.slots[0].slot = "not base64!".into();
        let mut truncated = answer.clone();
        truncated.slots[0].slot = STANDARD.encode([0u8; 125]);
        for (name, bad) in [
            ("relabelled", relabelled),
            ("renamed", renamed),
            ("garbled", garbled),
            ("truncated", truncated),
        ] {
            assert!(
                matches!(parse_slots(&bad), Err(SyncError::Crypto(_))),
                "{name}"
            );
            assert!(opened(&bad, Secret::Passphrase(PASS)).is_err(), "{name}");
        }
        // Another vault's slot under this vault's id: the id check refuses it before any KDF.
        let (_, other) = new(5);
        let mut swapped = answer.clone();
        swapped.slots[0].slot = other.slots[0].slot.clone();
        assert!(parse_slots(&swapped).is_err());
    }

    #[test]
    fn replacing_one_kind_keeps_the_other_slots_and_the_keyring() {
        let (vault, mut answer) = new(6);
        answer.keyring = Some("a2V5cmluZw==".into());
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        let new_pass =
            KeySlot::seal_passphrase(&vault.vk, 0, "a new passphrase", CHEAP, &mut rng).unwrap();
        let put = replace_kind(&answer, &new_pass);
        assert_eq!(put.keyring, answer.keyring);
        assert_eq!(put.slots.len(), 2);
        assert_eq!(
            put.slots[0], answer.slots[1],
            "the recovery slot, unchanged"
        );
        assert_eq!(put.slots[1], entry_of(&new_pass));
        let after = KeysAnswer {
            keyring: None,
            ..answer_of(&put)
        };
        assert_eq!(
            opened(&after, Secret::Passphrase("a new passphrase")).unwrap(),
            *vault.vk.expose()
        );
        assert!(
            opened(&after, Secret::Passphrase(PASS)).is_err(),
            "the old one is gone"
        );
        assert!(opened(&after, Secret::RecoveryCode(&vault.code)).is_ok());
    }
}
