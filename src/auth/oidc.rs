//! OIDC / JWT bearer tokens. The issuer's keys come from its discovery document
//! (`<issuer>/.well-known/openid-configuration` -> `jwks_uri`) or a configured `jwks_url`,
//! fetched through the outbound client (`crate::outbound`), cached, and fetched again when a
//! token names a key id the cache lacks (at most every [`MIN_REFRESH`]) or the cache is older
//! than [`MAX_AGE`]. Signatures are checked by `jsonwebtoken`: RS256/384/512, PS256/384/512,
//! ES256/384 (never `none` or a shared-secret HS*). `iss`, `aud`, `exp` and `nbf` are checked
//! with the configured clock skew; `sub` is the user; the roles come from a configurable
//! claim, a dotted path into the claims (`roles`, `realm_access.roles`), holding an array
//! of strings or one string of names separated by spaces or commas.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Fewest seconds between two fetches of the keys (a stream of tokens with made-up key ids
/// cannot make the server hammer the issuer).
pub const MIN_REFRESH: Duration = Duration::from_secs(30);
/// Keys older than this are fetched again at the next token.
pub const MAX_AGE: Duration = Duration::from_secs(3600);

/// Which tokens are accepted.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// `iss` of every token, and where discovery starts (`https://id.example.org/realms/x`).
    pub issuer: String,
    /// What `aud` must hold.
    pub audience: String,
    /// Dotted path of the claim with the roles.
    pub roles_claim: String,
    /// Leeway on `exp` and `nbf`.
    pub clock_skew: Duration,
    /// The key set's URL, instead of discovering it.
    pub jwks_url: Option<String>,
    /// Whether the issuer may be on a private or loopback address.
    pub allow_private: bool,
}

/// Who a valid token says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub roles: Vec<String>,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The token is bad: 401, with the reason.
    Rejected(String),
    /// The issuer's keys could not be read, and none are cached: 503.
    Unavailable(String),
}

struct Cache {
    keys: Vec<Jwk>,
    fetched: Option<Instant>,
}

/// Checks tokens of one issuer.
pub struct Verifier {
    settings: OidcSettings,
    client: reqwest::Client,
    cache: tokio::sync::Mutex<Cache>,
}

impl Verifier {
    pub fn new(settings: OidcSettings) -> Verifier {
        let client = crate::outbound::client(
            settings.allow_private,
            crate::outbound::Timeouts {
                connect: Duration::from_secs(5),
                read: Duration::from_secs(10),
                total: Some(Duration::from_secs(15)),
            },
        );
        Verifier {
            settings,
            client,
            cache: tokio::sync::Mutex::new(Cache {
                keys: Vec::new(),
                fetched: None,
            }),
        }
    }

    /// The identity a token proves.
    pub async fn verify(&self, token: &str) -> Result<Identity, VerifyError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| VerifyError::Rejected(format!("it is not a JWT ({e})")))?;
        let alg = header.alg;
        if !matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
                | Algorithm::ES256
                | Algorithm::ES384
        ) {
            return Err(VerifyError::Rejected(format!(
                "its algorithm {alg:?} is not accepted (use RS256, PS256 or ES256 and kin)"
            )));
        }
        let jwk = self.key(header.kid.as_deref()).await?;
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|e| VerifyError::Rejected(format!("the issuer's key cannot be used ({e})")))?;
        let mut validation = Validation::new(alg);
        validation.leeway = self.settings.clock_skew.as_secs();
        validation.validate_nbf = true;
        validation.set_audience(&[self.settings.audience.as_str()]);
        validation.set_issuer(&[self.settings.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            VerifyError::Rejected(match e.kind() {
                ErrorKind::ExpiredSignature => "it has expired".to_string(),
                ErrorKind::ImmatureSignature => "it is not valid yet (nbf)".to_string(),
                ErrorKind::InvalidAudience => {
                    format!("its audience (aud) is not {:?}", self.settings.audience)
                }
                ErrorKind::InvalidIssuer => {
                    format!("its issuer (iss) is not {:?}", self.settings.issuer)
                }
                ErrorKind::InvalidSignature => "its signature does not verify".to_string(),
                ErrorKind::MissingRequiredClaim(claim) => {
                    format!("it has no {claim} claim")
                }
                _ => format!("it does not verify ({e})"),
            })
        })?;
        let subject = data
            .claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| VerifyError::Rejected("its sub claim is empty".to_string()))?
            .to_string();
        Ok(Identity {
            subject,
            roles: roles_at(&data.claims, &self.settings.roles_claim),
        })
    }

    /// The key `kid` names (or the only key, for a token without `kid`), fetching the key
    /// set when it is not cached yet, stale, or lacks the key (rate-limited).
    async fn key(&self, kid: Option<&str>) -> Result<Jwk, VerifyError> {
        let mut cache = self.cache.lock().await;
        let stale = cache.fetched.is_none_or(|at| at.elapsed() >= MAX_AGE);
        if !stale {
            if let Some(jwk) = find(&cache.keys, kid) {
                return Ok(jwk);
            }
        }
        let may_fetch = cache.fetched.is_none_or(|at| at.elapsed() >= MIN_REFRESH);
        if may_fetch {
            let fetched = self.fetch_keys().await;
            cache.fetched = Some(Instant::now());
            match fetched {
                Ok(keys) => cache.keys = keys,
                Err(why) if cache.keys.is_empty() => return Err(VerifyError::Unavailable(why)),
                Err(why) => tracing::warn!("cannot refresh the token issuer's keys: {why}"),
            }
        } else if cache.keys.is_empty() {
            return Err(VerifyError::Unavailable(
                "the last try to read them failed; the next is in a few seconds".to_string(),
            ));
        }
        find(&cache.keys, kid).ok_or_else(|| {
            VerifyError::Rejected(match kid {
                Some(kid) => format!("its key id (kid) {kid:?} is not one of the issuer's keys"),
                None => "it names no key id (kid) and the issuer has several keys".to_string(),
            })
        })
    }

    async fn fetch_keys(&self) -> Result<Vec<Jwk>, String> {
        let jwks_url = match &self.settings.jwks_url {
            Some(url) => url.clone(),
            None => {
                let discovery = format!(
                    "{}/.well-known/openid-configuration",
                    self.settings.issuer.trim_end_matches('/')
                );
                let document = self.get_json(&discovery).await?;
                document
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{discovery} names no jwks_uri"))?
                    .to_string()
            }
        };
        let set = self.get_json(&jwks_url).await?;
        let keys: Vec<Jwk> = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{jwks_url} is not a JWK set (no keys array)"))?
            .iter()
            // A key of a kind this server does not read is skipped, not fatal.
            .filter_map(|key| serde_json::from_value(key.clone()).ok())
            .collect();
        tracing::info!(keys = keys.len(), "read the token issuer's keys");
        Ok(keys)
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?}: {e}"))?;
        crate::outbound::check_url(&parsed, self.settings.allow_private)?;
        let shown = crate::outbound::shown_url(&parsed);
        let response = self
            .client
            .get(parsed)
            .send()
            .await
            .map_err(|e| format!("{shown}: {}", crate::error::cause_chain(&e)))?;
        if !response.status().is_success() {
            return Err(format!("{shown} answered {}", response.status()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("{shown}: {}", crate::error::cause_chain(&e)))?;
        if body.len() > 1024 * 1024 {
            return Err(format!("{shown} sent more than 1 MiB"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("{shown} is not JSON: {e}"))
    }
}

fn find(keys: &[Jwk], kid: Option<&str>) -> Option<Jwk> {
    match kid {
        Some(kid) => keys
            .iter()
            .find(|k| k.common.key_id.as_deref() == Some(kid))
            .cloned(),
        None if keys.len() == 1 => keys.first().cloned(),
        None => None,
    }
}

/// The role names at a dotted path of the claims: an array of strings, or one string of
/// names separated by spaces or commas; nothing when the path leads nowhere.
pub fn roles_at(claims: &Value, path: &str) -> Vec<String> {
    let mut value = claims;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        match value.get(part) {
            Some(next) => value = next,
            None => return Vec::new(),
        }
    }
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Value::String(text) => text
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_read_at_a_dotted_path() {
        let claims = serde_json::json!({
            "roles": ["user", 3, "reader"],
            "realm_access": {"roles": ["admin"]},
            "scope": "user  reader,admin",
        });
        assert_eq!(roles_at(&claims, "roles"), ["user", "reader"]);
        assert_eq!(roles_at(&claims, "realm_access.roles"), ["admin"]);
        assert_eq!(roles_at(&claims, "scope"), ["user", "reader", "admin"]);
        assert!(roles_at(&claims, "realm_access.none").is_empty());
        assert!(roles_at(&claims, "realm_access").is_empty());
    }
}
