//! Passwords and bearer tokens. Passwords are hashed with Argon2id; API keys and session tokens are
//! random 256-bit secrets stored as SHA-256 digests and compared in constant time.
//!
//! A token reads `kc<kind>_<id>_<secret>`: the id finds the stored record, the secret proves
//! possession.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;
use uuid::Uuid;

use crate::Error;

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes a password with Argon2id (the crate's default, OWASP-recommended parameters).
pub fn hash_password(password: &str) -> Result<String, Error> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::invalid(
            "password",
            format!("must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| Error::Internal(format!("hashing a password failed: {err}")))
}

/// Checks a password against a stored Argon2 PHC string; a malformed hash never matches.
pub fn verify_password(stored_hash: &str, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// What a bearer token grants access through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    ApiKey,
    Session,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            TokenKind::ApiKey => "kck",
            TokenKind::Session => "kcs",
        }
    }
}

/// A freshly minted token: `value` goes to the client once, `hash` to the store.
pub struct MintedToken {
    pub id: Uuid,
    pub value: String,
    pub hash: String,
}

impl std::fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Mints a token of the given kind with a new id and 256 random bits.
pub fn mint_token(kind: TokenKind, id: Uuid) -> MintedToken {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let value = format!("{}_{}_{}", kind.prefix(), id.simple(), secret);
    MintedToken {
        id,
        hash: digest(&secret),
        value,
    }
}

/// A token as presented by a client, split into its parts.
#[derive(Debug, PartialEq, Eq)]
pub struct PresentedToken<'a> {
    pub kind: TokenKind,
    pub id: Uuid,
    pub secret: &'a str,
}

/// Splits a presented token; anything that is not a Keycard token yields `None`.
pub fn parse_token(value: &str) -> Option<PresentedToken<'_>> {
    let (prefix, rest) = value.split_once('_')?;
    let kind = [TokenKind::ApiKey, TokenKind::Session]
        .into_iter()
        .find(|kind| kind.prefix() == prefix)?;
    let (id, secret) = rest.split_once('_')?;
    let id = Uuid::try_parse(id).ok()?;
    (!secret.is_empty()).then_some(PresentedToken { kind, id, secret })
}

/// Checks a presented secret against a stored digest in constant time.
pub fn verify_secret(secret: &str, stored_hash: &str) -> bool {
    hex_digest(secret).ct_eq(stored_hash.as_bytes()).into()
}

/// The stored form of a secret: its SHA-256 in lowercase hex.
fn digest(secret: &str) -> String {
    String::from_utf8_lossy(&hex_digest(secret)).into_owned()
}

/// The digest in a stack buffer: verifying runs on every request authenticated by a key or token.
fn hex_digest(secret: &str) -> [u8; 64] {
    let mut hex = [0u8; 64];
    // 32 bytes always fill the 64 hex digits exactly; were it to fail, the zeros match no
    // stored digest.
    let _ = hex::encode_to_slice(Sha256::digest(secret.as_bytes()), &mut hex);
    hex
}

/// A random password for the bootstrap administrator when none is configured.
pub fn generate_password() -> String {
    let mut bytes = [0u8; 18];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "wrong horse"));
        assert!(!verify_password("not a hash", "correct horse"));
        assert!(hash_password("short").is_err());
    }

    #[test]
    fn tokens_parse_and_verify() {
        let id = Uuid::now_v7();
        let minted = mint_token(TokenKind::ApiKey, id);
        let presented = parse_token(&minted.value).unwrap();
        assert_eq!(presented.kind, TokenKind::ApiKey);
        assert_eq!(presented.id, id);
        assert!(verify_secret(presented.secret, &minted.hash));
        assert!(!verify_secret("forged", &minted.hash));
        assert!(parse_token("kcx_abc_def").is_none());
        assert!(parse_token("Basic abc").is_none());
        assert!(!format!("{minted:?}").contains(presented.secret));
    }
}
