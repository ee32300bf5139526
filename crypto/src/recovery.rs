//! The recovery code: 160 random bits shown to the person once, as 35 Crockford base32
//! characters in 7 groups of 5 (`XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX`).
//!
//! - Characters 1–32: the 20 code bytes, big-endian, 5 bits per character, alphabet
//!   `0123456789ABCDEFGHJKMNPQRSTVWXYZ` (no I, L, O, U).
//! - Characters 33–35: the check value, the 160-bit number modulo 32749 (the largest prime
//!   below 32^3), as 3 characters, big-endian.
//!
//! Reading ignores case, spaces and hyphens, and takes `O` for `0` and `I`/`L` for `1`.
//! Because 32749 is a prime larger than 31, every single-character substitution and every
//! transposition of two adjacent data characters changes the check value (the difference
//! is `d·32^k` or `d·31·32^k` with `0 < |d| < 32`, never a multiple of 32749); any other
//! typo slips through with probability about 1/32749. The check runs before any decryption.

use std::fmt;

use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::CryptoError;
use crate::seal::random;

/// Random bytes in a recovery code.
pub const RECOVERY_CODE_BYTES: usize = 20;
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const DATA_CHARS: usize = 32;
const CHECK_CHARS: usize = 3;
const CHECK_MODULUS: u32 = 32749;
const GROUP: usize = 5;

/// A recovery code's 20 bytes, zeroized on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct RecoveryCode([u8; RECOVERY_CODE_BYTES]);

fn symbols_of(bytes: &[u8; RECOVERY_CODE_BYTES]) -> [u8; DATA_CHARS] {
    let mut out = [0u8; DATA_CHARS];
    for (i, symbol) in out.iter_mut().enumerate() {
        let bit = i * 5;
        let pair = u16::from_be_bytes([bytes[bit / 8], *bytes.get(bit / 8 + 1).unwrap_or(&0)]);
        *symbol = ((pair >> (11 - bit % 8)) & 0x1f) as u8;
    }
    out
}

fn check_value(symbols: &[u8; DATA_CHARS]) -> u32 {
    symbols
        .iter()
        .fold(0u32, |rem, &s| (rem * 32 + u32::from(s)) % CHECK_MODULUS)
}

fn decode_char(c: char) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        c => c,
    };
    ALPHABET
        .iter()
        .position(|&a| char::from(a) == c)
        .map(|p| p as u8)
}

impl RecoveryCode {
    /// A new code: 20 bytes from `rng`.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        RecoveryCode(random(rng))
    }

    pub fn from_bytes(bytes: [u8; RECOVERY_CODE_BYTES]) -> Self {
        RecoveryCode(bytes)
    }

    pub fn expose(&self) -> &[u8; RECOVERY_CODE_BYTES] {
        &self.0
    }

    /// Reads a code as typed; a typo is [`CryptoError::RecoveryCodeTypo`].
    pub fn parse(typed: &str) -> Result<Self, CryptoError> {
        let mut symbols = Vec::with_capacity(DATA_CHARS + CHECK_CHARS);
        for c in typed.chars().filter(|c| !matches!(c, '-' | ' ')) {
            let s = decode_char(c).ok_or(CryptoError::RecoveryCodeFormat(
                "only the letters and digits of the code (Crockford base32)",
            ))?;
            symbols.push(s);
        }
        if symbols.len() != DATA_CHARS + CHECK_CHARS {
            return Err(CryptoError::RecoveryCodeFormat("a code has 35 characters"));
        }
        let data: [u8; DATA_CHARS] = symbols[..DATA_CHARS].try_into().expect("32 symbols");
        let check = symbols[DATA_CHARS..]
            .iter()
            .fold(0u32, |acc, &s| acc * 32 + u32::from(s));
        if check != check_value(&data) {
            symbols.zeroize();
            return Err(CryptoError::RecoveryCodeTypo);
        }
        let mut bytes = [0u8; RECOVERY_CODE_BYTES];
        for (i, &s) in data.iter().enumerate() {
            let bit = i * 5;
            let shifted = u16::from(s) << (11 - bit % 8);
            bytes[bit / 8] |= (shifted >> 8) as u8;
            if let Some(next) = bytes.get_mut(bit / 8 + 1) {
                *next |= shifted as u8;
            }
        }
        symbols.zeroize();
        Ok(RecoveryCode(bytes))
    }

    /// The code as shown to the person: 7 groups of 5 characters joined by hyphens.
    pub fn display(&self) -> String {
        let data = symbols_of(&self.0);
        let check = check_value(&data);
        let check_symbols = [
            (check >> 10) as u8,
            ((check >> 5) & 0x1f) as u8,
            (check & 0x1f) as u8,
        ];
        let chars: Vec<char> = data
            .iter()
            .chain(&check_symbols)
            .map(|&s| char::from(ALPHABET[usize::from(s)]))
            .collect();
        chars
            .chunks(GROUP)
            .map(|g| g.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join("-")
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(..)")
    }
}
