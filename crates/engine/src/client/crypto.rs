//! End-to-end payload encryption (docs/PROTOCOL.md#end-to-end-encryption): AES-128-GCM or
//! AES-256-GCM with the key derived from `cipherKey` and the 32-byte `salt` by PBKDF2-HMAC-SHA256
//! (RustCrypto crates). Payloads of messages, topic messages and realtime data are sealed in the
//! client and travel opaque; the server never sees plaintext.
//!
//! Sealed form: `0x01` (version) | 12-byte random nonce | ciphertext and 16-byte tag — 29 bytes
//! more than the plaintext.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use rand::RngCore;
use sha2::Sha256;

use crate::error::{Error, ErrorCode, Result};

/// PBKDF2 rounds for the key (once per client).
const ROUNDS: u32 = 10_000;
const VERSION: u8 = 1;
const NONCE: usize = 12;
/// Bytes sealing adds to a payload.
pub const OVERHEAD: usize = 1 + NONCE + 16;

/// The encryption modes of RTM (`NONE` is no cipher at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Aes128Gcm,
    Aes256Gcm,
}

impl Mode {
    /// Parses an `encryptionMode`; `None` for "NONE" or absent.
    pub fn parse(mode: Option<&str>) -> Result<Option<Mode>> {
        match mode {
            None | Some("NONE") => Ok(None),
            Some("AES_128_GCM") => Ok(Some(Mode::Aes128Gcm)),
            Some("AES_256_GCM") => Ok(Some(Mode::Aes256Gcm)),
            Some(other) => Err(Error::new(
                ErrorCode::InvalidEncryptionParameter,
                format!("encryptionMode {other:?} is not one of NONE, AES_128_GCM, AES_256_GCM"),
            )),
        }
    }
}

enum Key {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
}

/// A client's cipher.
pub struct Cipher {
    key: Key,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(***)")
    }
}

impl Cipher {
    /// Derives the key. A missing key or a salt that is not 32 bytes is refused.
    pub fn new(mode: Mode, cipher_key: &str, salt: &[u8]) -> Result<Cipher> {
        if cipher_key.is_empty() {
            return Err(Error::new(ErrorCode::InvalidEncryptionParameter, "encryption needs a non-empty cipherKey"));
        }
        if salt.len() != 32 {
            return Err(Error::new(
                ErrorCode::InvalidEncryptionParameter,
                format!("salt must be 32 bytes, got {}", salt.len()),
            ));
        }
        let key = match mode {
            Mode::Aes128Gcm => {
                let mut bytes = [0u8; 16];
                pbkdf2::pbkdf2_hmac::<Sha256>(cipher_key.as_bytes(), salt, ROUNDS, &mut bytes);
                Key::Aes128(Box::new(Aes128Gcm::new(&bytes.into())))
            }
            Mode::Aes256Gcm => {
                let mut bytes = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(cipher_key.as_bytes(), salt, ROUNDS, &mut bytes);
                Key::Aes256(Box::new(Aes256Gcm::new(&bytes.into())))
            }
        };
        Ok(Cipher { key })
    }

    /// Encrypts a payload.
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE];
        rand::rng().fill_bytes(&mut nonce);
        let nonce_ref = Nonce::from_slice(&nonce);
        let sealed = match &self.key {
            Key::Aes128(k) => k.encrypt(nonce_ref, plain),
            Key::Aes256(k) => k.encrypt(nonce_ref, plain),
        }
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(OVERHEAD + plain.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts a payload; fails (never returns garbage) with another key or a damaged payload.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>> {
        let fail = |why: &str| {
            Error::new(ErrorCode::ChannelEncryptMessageFailed, format!("could not decrypt the payload: {why}"))
        };
        if sealed.len() < OVERHEAD || sealed[0] != VERSION {
            return Err(fail("not an encrypted Piazza payload"));
        }
        let nonce = Nonce::from_slice(&sealed[1..1 + NONCE]);
        match &self.key {
            Key::Aes128(k) => k.decrypt(nonce, &sealed[1 + NONCE..]),
            Key::Aes256(k) => k.decrypt(nonce, &sealed[1 + NONCE..]),
        }
        .map_err(|_| fail("wrong cipherKey or salt, or a different encryptionMode"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_round_trips_and_hides_the_plaintext() {
        for mode in [Mode::Aes128Gcm, Mode::Aes256Gcm] {
            let cipher = Cipher::new(mode, "key", &[7; 32]).unwrap();
            let sealed = cipher.seal(b"attack at dawn");
            assert_eq!(sealed.len(), 14 + OVERHEAD);
            assert!(!sealed.windows(6).any(|w| w == b"attack"));
            assert_eq!(cipher.open(&sealed).unwrap(), b"attack at dawn");
            assert_ne!(cipher.seal(b"same"), cipher.seal(b"same"), "a fresh nonce each time");
        }
    }

    #[test]
    fn another_key_salt_or_mode_fails_clearly() {
        let sealed = Cipher::new(Mode::Aes256Gcm, "key", &[7; 32]).unwrap().seal(b"secret");
        for other in [
            Cipher::new(Mode::Aes256Gcm, "other", &[7; 32]).unwrap(),
            Cipher::new(Mode::Aes256Gcm, "key", &[8; 32]).unwrap(),
            Cipher::new(Mode::Aes128Gcm, "key", &[7; 32]).unwrap(),
        ] {
            let e = other.open(&sealed).unwrap_err();
            assert_eq!(e.code, ErrorCode::ChannelEncryptMessageFailed);
            assert!(e.reason.contains("wrong cipherKey"));
        }
        assert!(Cipher::new(Mode::Aes256Gcm, "key", &[7; 32]).unwrap().open(b"plain text").is_err());
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert_eq!(Mode::parse(Some("ROT13")).unwrap_err().code, ErrorCode::InvalidEncryptionParameter);
        assert_eq!(Mode::parse(Some("NONE")).unwrap(), None);
        assert_eq!(Cipher::new(Mode::Aes128Gcm, "", &[0; 32]).unwrap_err().code, ErrorCode::InvalidEncryptionParameter);
        assert_eq!(
            Cipher::new(Mode::Aes128Gcm, "k", &[0; 31]).unwrap_err().code,
            ErrorCode::InvalidEncryptionParameter
        );
    }
}
