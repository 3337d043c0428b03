//! API keys for scripts: `ades_` + 43 characters (32 random bytes, base64url). Only the
//! SHA-256 of a key is stored. A fast hash is enough here, unlike for passwords: a key has
//! 256 random bits, so nobody can search the key space from a leaked hash, and a slow hash
//! (argon2, bcrypt) only guards low-entropy secrets people choose. A plain hash also lets
//! each request find its key by an indexed look-up instead of trying every stored key.

use crate::store::{ApiKeyRecord, JobStore, StoreError};
use base64::Engine;
use ring::rand::SecureRandom;
use sha2::Digest;
use time::OffsetDateTime;

/// Every key starts with this, which tells it from a JWT in `Authorization: Bearer`.
pub const PREFIX: &str = "ades_";

/// The lower-case hex SHA-256 of a key, as stored.
pub fn hash(key: &str) -> String {
    let digest = sha2::Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random source works");
    bytes
}

/// A new key: its record (to store) and the key itself (shown once).
pub fn generate(user: &str, roles: &[String], name: &str) -> (ApiKeyRecord, String) {
    let key = format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
    );
    let id: String = random_bytes::<6>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let record = ApiKeyRecord {
        id: format!("k{id}"),
        user: user.to_string(),
        roles: roles.to_vec(),
        name: name.to_string(),
        created: OffsetDateTime::now_utc(),
        revoked: None,
    };
    (record, key)
}

/// Makes and stores a key; returns its record and the key (to show once).
pub async fn create(
    store: &dyn JobStore,
    user: &str,
    roles: &[String],
    name: &str,
) -> Result<(ApiKeyRecord, String), StoreError> {
    let (record, key) = generate(user, roles, name);
    store.insert_api_key(&record, &hash(&key)).await?;
    Ok((record, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hashed() {
        let (a, key_a) = generate("u", &["user".to_string()], "");
        let (b, key_b) = generate("u", &["user".to_string()], "");
        assert!(key_a.starts_with(PREFIX) && key_a.len() == PREFIX.len() + 43);
        assert_ne!(key_a, key_b);
        assert_ne!(a.id, b.id);
        assert_eq!(hash(&key_a), hash(&key_a));
        assert_eq!(hash(&key_a).len(), 64);
        assert_ne!(hash(&key_a), hash(&key_b));
    }
}
