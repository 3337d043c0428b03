//! Authentication with registries: reading `WWW-Authenticate` challenges, and the bearer
//! tokens obtained from a token service, cached until they expire.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// One challenge of a `WWW-Authenticate` header: `Bearer realm="...",service="..."`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Lowercase: `basic`, `bearer`, ...
    pub scheme: String,
    /// Parameter names lowercased, values unquoted.
    pub params: BTreeMap<String, String>,
}

/// Parses a `WWW-Authenticate` value (RFC 9110 §11.6.1): one or more challenges, each a
/// scheme followed by comma-separated `name=value` or `name="quoted value"` parameters.
/// Anything unreadable ends the parse; what was read so far is kept.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut challenges: Vec<Challenge> = Vec::new();
    let mut rest = header.trim_start();
    while !rest.is_empty() {
        let (token, after) = take_token(rest);
        if token.is_empty() {
            // A stray separator: skip it.
            rest = rest[1..].trim_start();
            continue;
        }
        let after_ws = after.trim_start();
        match (after_ws.strip_prefix('='), challenges.last_mut()) {
            // `name=value`: a parameter of the current challenge.
            (Some(value_text), Some(current)) => {
                let Some((value, after_value)) = take_value(value_text.trim_start()) else {
                    break;
                };
                current.params.insert(token.to_ascii_lowercase(), value);
                rest = after_value.trim_start();
            }
            (Some(_), None) => break,
            // A bare token starts a new challenge.
            (None, _) => {
                challenges.push(Challenge {
                    scheme: token.to_ascii_lowercase(),
                    params: BTreeMap::new(),
                });
                rest = after_ws;
            }
        }
        rest = rest.trim_start_matches([',', ' ', '\t']);
    }
    challenges
}

fn take_token(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| c == '=' || c == ',' || c.is_whitespace() || c == '"')
        .unwrap_or(text.len());
    text.split_at(end)
}

/// A quoted string (with `\` escapes) or a token.
fn take_value(text: &str) -> Option<(String, &str)> {
    let Some(quoted) = text.strip_prefix('"') else {
        let (token, rest) = take_token(text);
        return Some((token.to_string(), rest));
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &quoted[i + 1..])),
            '\\' => value.push(chars.next()?.1),
            c => value.push(c),
        }
    }
    None
}

/// The URL of the `rel="next"` entry of a `Link` header (`<url>; rel="next"`), as written
/// (often relative to the request's URL).
pub fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let close = open + rest[open..].find('>')?;
        let target = &rest[open + 1..close];
        let params_end = rest[close..].find('<').map_or(rest.len(), |i| close + i);
        let params = &rest[close + 1..params_end];
        let is_next = params.split(';').any(|param| {
            let Some((name, value)) = param.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_end_matches(',')
                    .trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.to_string());
        }
        rest = &rest[params_end..];
    }
    None
}

/// What the client learnt about how to authenticate, shared by its clones.
#[derive(Default)]
pub struct AuthCache {
    /// Bearer tokens by (registry, scope).
    tokens: HashMap<(String, String), CachedToken>,
    /// Registries that asked for basic authentication: later requests send the credentials
    /// at once instead of being refused first.
    basic: HashSet<String>,
}

struct CachedToken {
    token: String,
    expires: Instant,
}

/// Tokens live 60 s unless the token service says otherwise (distribution's token spec).
const DEFAULT_TOKEN_LIFETIME: u64 = 60;
/// A token is dropped this much before it expires, so it never expires in flight.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);

impl AuthCache {
    pub fn token(&self, registry: &str, scope: &str) -> Option<String> {
        let cached = self
            .tokens
            .get(&(registry.to_string(), scope.to_string()))?;
        (Instant::now() < cached.expires).then(|| cached.token.clone())
    }

    pub fn store_token(
        &mut self,
        registry: &str,
        scope: &str,
        token: String,
        expires_in: Option<u64>,
    ) {
        let lifetime = Duration::from_secs(expires_in.unwrap_or(DEFAULT_TOKEN_LIFETIME));
        let expires = Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN);
        self.tokens
            .retain(|_, cached| Instant::now() < cached.expires);
        self.tokens.insert(
            (registry.to_string(), scope.to_string()),
            CachedToken { token, expires },
        );
    }

    pub fn uses_basic(&self, registry: &str) -> bool {
        self.basic.contains(registry)
    }

    pub fn remember_basic(&mut self, registry: &str) {
        self.basic.insert(registry.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(scheme: &str, params: &[(&str, &str)]) -> Challenge {
        Challenge {
            scheme: scheme.to_string(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn challenges_parse() {
        assert_eq!(
            parse_challenges(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#
            ),
            vec![challenge(
                "bearer",
                &[
                    ("realm", "https://auth.docker.io/token"),
                    ("service", "registry.docker.io"),
                    ("scope", "repository:library/busybox:pull,push"),
                ]
            )]
        );
        assert_eq!(
            parse_challenges(r#"Basic realm="ades-test""#),
            vec![challenge("basic", &[("realm", "ades-test")])]
        );
        assert_eq!(
            parse_challenges(r#"basic  Realm = "a \"quoted\" realm" , charset=UTF-8"#),
            vec![challenge(
                "basic",
                &[("realm", "a \"quoted\" realm"), ("charset", "UTF-8")]
            )]
        );
        assert_eq!(
            parse_challenges(r#"Basic realm="one", Bearer realm="https://t/token",service=reg"#),
            vec![
                challenge("basic", &[("realm", "one")]),
                challenge(
                    "bearer",
                    &[("realm", "https://t/token"), ("service", "reg")]
                ),
            ]
        );
        assert_eq!(
            parse_challenges("Negotiate"),
            vec![challenge("negotiate", &[])]
        );
        assert_eq!(parse_challenges(""), vec![]);
        // An unterminated quote keeps the challenge without the broken parameter.
        assert_eq!(
            parse_challenges(r#"Bearer realm="https://t"#),
            vec![challenge("bearer", &[])]
        );
    }

    #[test]
    fn next_links_parse() {
        assert_eq!(
            next_link(r#"</v2/_catalog?last=b&n=100>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=b&n=100")
        );
        assert_eq!(
            next_link(r#"<https://r.example/v2/x/tags/list?last=9>;rel=next"#).as_deref(),
            Some("https://r.example/v2/x/tags/list?last=9")
        );
        assert_eq!(
            next_link(r#"</first>; rel="prev", </second>; rel="next""#).as_deref(),
            Some("/second")
        );
        assert_eq!(next_link(r#"</a>; rel="prev""#), None);
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("<unclosed; rel=next"), None);
    }

    #[test]
    fn tokens_are_cached_per_registry_and_scope_until_they_expire() {
        let mut cache = AuthCache::default();
        cache.store_token("r", "repository:a:pull", "t1".into(), Some(300));
        assert_eq!(cache.token("r", "repository:a:pull").as_deref(), Some("t1"));
        assert_eq!(cache.token("r", "repository:b:pull"), None);
        assert_eq!(cache.token("other", "repository:a:pull"), None);
        // A lifetime within the margin is already expired.
        cache.store_token("r", "repository:b:pull", "t2".into(), Some(5));
        assert_eq!(cache.token("r", "repository:b:pull"), None);
    }
}
