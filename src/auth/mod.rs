//! Who is calling, shared by every façade (OGC API, WPS 2.0, WPS 1.0.0): the caller's
//! identity and roles, resolved once per request ([`resolve_caller`], a middleware putting a
//! [`Caller`] in the request's extensions; handlers take it as an extractor).
//!
//! Authentication is off by default: every request is [`Caller::local`], an anonymous
//! admin of its own server, and deploy/undeploy still need the operator's admin token, as
//! before. With `auth.mode = "on"` a request carries one of
//! - `Authorization: Bearer <JWT>` from the configured OIDC issuer ([`oidc`]): `sub` is the
//!   user, the `roles_claim` claim the roles;
//! - an API key ([`keys`]), `Authorization: Bearer ades_...` or `X-API-Key: ades_...`;
//! - the admin token (`auth.admin_token`), the operator's break-glass: it acts as admin.
//!
//! Roles: `admin` (deploy, undeploy, every job), `user` (execute, own jobs), `reader`
//! (describe and list processes). Without a credential only the landing page,
//! `/conformance`, `/api` and `/health` answer (401 elsewhere); a known caller with none of
//! the roles gets 403. What a role may do with jobs is checked in the job service
//! (`crate::jobs`), once for every façade.

pub mod keys;
pub mod oidc;

use crate::error::{ApiError, ErrorCode};
use crate::store::JobStore;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;

/// What `WWW-Authenticate` says on every 401.
pub const CHALLENGE: &str = "Bearer realm=\"ades\"";

/// A role a user holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Deploy, replace, undeploy; read and dismiss every job.
    Admin,
    /// Execute; read and dismiss one's own jobs.
    User,
    /// Describe and list processes only.
    Reader,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Admin, Role::User, Role::Reader];

    /// `admin`, `user`, `reader` (case-insensitive); `None` for anything else.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(text.trim()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
            Role::Reader => "reader",
        }
    }
}

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// Authentication is off: everybody is the local operator.
    Local,
    /// Authentication is on and the request carries no credential.
    Anonymous,
    /// The operator's admin token.
    AdminToken,
    /// A JWT of the configured issuer.
    Token,
    /// An API key.
    ApiKey,
    /// The server itself (workers, callbacks, the CLI).
    System,
}

/// Who is calling and what they may do.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user (a token's `sub`, an API key's user); `None` for the local operator, the
    /// admin token and anonymous callers.
    pub user: Option<String>,
    /// The roles held, sorted, without duplicates.
    pub roles: Vec<Role>,
    pub credential: Credential,
    /// Why deploying is refused to this caller; `None` when it is allowed.
    deploy_denied: Option<Denied>,
}

/// Why a request is refused for who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No credential, or one that does not hold (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// A known caller without the role the operation needs (403).
    #[error("{0}")]
    Forbidden(String),
}

impl Denied {
    /// The exception of the error table: `Unauthorized` (401, with `WWW-Authenticate`) or
    /// `Forbidden` (403).
    pub fn to_api_error(&self) -> ApiError {
        match self {
            Denied::Unauthenticated(text) => ApiError::new(ErrorCode::Unauthorized, text.clone())
                .with_header(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(CHALLENGE),
                ),
            Denied::Forbidden(text) => ApiError::new(ErrorCode::Forbidden, text.clone()),
        }
    }
}

impl Caller {
    /// Authentication off: an anonymous admin of its own server. `deploy_denied` says why
    /// deploying is refused (it needs the admin token), `None` when the token was given.
    pub fn local(deploy_denied: Option<Denied>) -> Caller {
        Caller {
            user: None,
            roles: vec![Role::Admin],
            credential: Credential::Local,
            deploy_denied,
        }
    }

    /// The server itself (workers, callbacks, the CLI): sees every job.
    pub fn system() -> Caller {
        Caller {
            user: None,
            roles: vec![Role::Admin],
            credential: Credential::System,
            deploy_denied: None,
        }
    }

    /// Authentication on, no credential.
    pub fn anonymous() -> Caller {
        Caller {
            user: None,
            roles: Vec::new(),
            credential: Credential::Anonymous,
            deploy_denied: Some(Denied::Unauthenticated(
                "Deploy, replace and undeploy need an admin: send Authorization: Bearer \
                 <token>."
                    .to_string(),
            )),
        }
    }

    /// A known caller with `roles` (unknown role names are ignored).
    pub fn authenticated(user: Option<String>, roles: &[String], credential: Credential) -> Self {
        let mut roles: Vec<Role> = roles.iter().filter_map(|r| Role::parse(r)).collect();
        roles.sort();
        roles.dedup();
        let deploy_denied = (!roles.contains(&Role::Admin)).then(|| {
            Denied::Forbidden(format!(
                "Deploy, replace and undeploy need the admin role; {} has {}.",
                shown_user(user.as_deref()),
                shown_roles(&roles)
            ))
        });
        Caller {
            user,
            roles,
            credential,
            deploy_denied,
        }
    }

    /// The operator's admin token with authentication on: admin.
    pub fn admin_token() -> Caller {
        Caller {
            user: None,
            roles: vec![Role::Admin],
            credential: Credential::AdminToken,
            deploy_denied: None,
        }
    }

    /// Why this caller may not deploy, replace and undeploy, or `None` when it may.
    pub fn deploy_refusal(&self) -> Option<String> {
        self.deploy_denied.as_ref().map(|denied| denied.to_string())
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Sees and dismisses every job.
    pub fn is_admin(&self) -> bool {
        self.has(Role::Admin)
    }

    /// Who did it, for the audit trail and the logs.
    pub fn actor(&self) -> String {
        match (&self.user, self.credential) {
            (Some(user), _) => user.clone(),
            (None, Credential::AdminToken) => "admin-token".to_string(),
            (None, Credential::System) => "system".to_string(),
            (None, _) => "anonymous".to_string(),
        }
    }

    /// The owner recorded on a job this caller submits.
    pub fn owner(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Whether the caller may see a job owned by `owner`: admins see every job, users the
    /// ones they submitted.
    pub fn may_see(&self, owner: Option<&str>) -> bool {
        self.is_admin() || (owner.is_some() && owner == self.user.as_deref())
    }

    /// Execute: `admin` or `user`.
    pub fn require_execute(&self) -> Result<(), Denied> {
        self.require_any(&[Role::Admin, Role::User], "Executing a process")
    }

    /// Reading, listing and dismissing jobs: `admin` or `user`.
    pub fn require_jobs(&self) -> Result<(), Denied> {
        self.require_any(&[Role::Admin, Role::User], "Reading and dismissing jobs")
    }

    /// Deploy, replace, undeploy: the admin token (authentication off), the admin role
    /// (on).
    pub fn require_deployer(&self) -> Result<(), Denied> {
        match &self.deploy_denied {
            Some(denied) => Err(denied.clone()),
            None => Ok(()),
        }
    }

    /// What only admins may do (the operator's pages): `what` names it in the refusal.
    pub fn require_admin(&self, what: &str) -> Result<(), Denied> {
        self.require_any(&[Role::Admin], what)
    }

    fn require_any(&self, roles: &[Role], what: &str) -> Result<(), Denied> {
        if roles.iter().any(|role| self.has(*role)) {
            return Ok(());
        }
        if self.credential == Credential::Anonymous {
            return Err(unauthenticated());
        }
        let needed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(Denied::Forbidden(format!(
            "{what} needs the role {}; {} has {}.",
            needed.join(" or "),
            shown_user(self.user.as_deref()),
            shown_roles(&self.roles)
        )))
    }
}

fn shown_user(user: Option<&str>) -> String {
    match user {
        Some(user) => format!("user {user:?}"),
        None => "this caller".to_string(),
    }
}

fn shown_roles(roles: &[Role]) -> String {
    if roles.is_empty() {
        "no role of this server (admin, user, reader)".to_string()
    } else {
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        format!("only {}", names.join(", "))
    }
}

fn unauthenticated() -> Denied {
    Denied::Unauthenticated(
        "This server needs a credential: send Authorization: Bearer <token> (a token of the \
         configured issuer or an API key ades_...), or X-API-Key: <key>."
            .to_string(),
    )
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    /// The caller [`resolve_caller`] put in the request; the local operator when the
    /// middleware did not run (routers built without it, in unit tests).
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or_else(|| Caller::local(None)))
    }
}

/// How callers are told apart (the `[auth]` section).
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    /// Authentication on: anonymous requests are refused outside the public paths.
    pub enabled: bool,
    /// The OIDC issuer whose tokens are accepted; `None` = API keys (and the admin token)
    /// only.
    pub oidc: Option<oidc::OidcSettings>,
    /// Most jobs (accepted + running) one user may have at once; 0 = no limit.
    pub max_jobs_per_user: u64,
}

/// Tells who a request is from. Cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    settings: Arc<AuthSettings>,
    /// The operator's admin token; `None` = none configured.
    admin_token: Option<Arc<str>>,
    store: Arc<dyn JobStore>,
    oidc: Option<Arc<oidc::Verifier>>,
}

impl Authenticator {
    pub fn new(
        settings: AuthSettings,
        admin_token: Option<String>,
        store: Arc<dyn JobStore>,
    ) -> Self {
        let oidc = settings
            .oidc
            .clone()
            .map(|oidc| Arc::new(oidc::Verifier::new(oidc)));
        Authenticator {
            settings: Arc::new(settings),
            admin_token: admin_token.map(Arc::from),
            store,
            oidc,
        }
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// The caller of a request with these headers, or why its credential does not hold.
    pub async fn resolve(&self, headers: &HeaderMap) -> Result<Caller, ResolveError> {
        let api_key = headers
            .get("x-api-key")
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|key| !key.is_empty());
        // A browser's sign-in cookie stands for the bearer token it cannot send; a header
        // credential, when there is one, wins.
        let cookie = sign_in_cookie(headers);
        let bearer =
            bearer_token(headers).or_else(|| cookie.as_deref().filter(|_| api_key.is_none()));
        let admin_token = self.admin_token.as_deref();
        if !self.settings.enabled {
            let denied = match (admin_token, bearer) {
                (None, _) => Some(Denied::Forbidden(
                    "Deploying, replacing and undeploying processes is disabled on this \
                     server: the operator enables it by starting ades with --admin-token (or \
                     ADES__AUTH__ADMIN_TOKEN)."
                        .to_string(),
                )),
                (Some(expected), Some(given))
                    if constant_time_eq(given.as_bytes(), expected.as_bytes()) =>
                {
                    None
                }
                (Some(_), Some(_)) => Some(Denied::Unauthenticated(
                    "The bearer token is not the admin token of this server.".to_string(),
                )),
                (Some(_), None) => Some(Denied::Unauthenticated(
                    "Deploy, replace and undeploy need the admin token: send \
                     Authorization: Bearer <token>."
                        .to_string(),
                )),
            };
            return Ok(Caller::local(denied));
        }
        if let (Some(expected), Some(given)) = (admin_token, bearer) {
            if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
                return Ok(Caller::admin_token());
            }
        }
        if let Some(key) = api_key.or(bearer.filter(|b| b.starts_with(keys::PREFIX))) {
            return self.resolve_key(key).await;
        }
        let Some(token) = bearer else {
            return Ok(Caller::anonymous());
        };
        let Some(verifier) = &self.oidc else {
            return Err(ResolveError::Denied(Denied::Unauthenticated(
                "The bearer token is neither the admin token nor an API key (ades_...), and \
                 this server accepts no other tokens (auth.issuer is not set)."
                    .to_string(),
            )));
        };
        let identity = verifier
            .verify(token)
            .await
            .map_err(|problem| match problem {
                oidc::VerifyError::Rejected(why) => ResolveError::Denied(Denied::Unauthenticated(
                    format!("The bearer token is not accepted: {why}."),
                )),
                oidc::VerifyError::Unavailable(why) => ResolveError::IssuerUnavailable(why),
            })?;
        Ok(Caller::authenticated(
            Some(identity.subject),
            &identity.roles,
            Credential::Token,
        ))
    }

    async fn resolve_key(&self, key: &str) -> Result<Caller, ResolveError> {
        let unknown = || {
            ResolveError::Denied(Denied::Unauthenticated(
                "The API key is not known here, or it was revoked (ades keys list shows the \
                 keys)."
                    .to_string(),
            ))
        };
        if !key.starts_with(keys::PREFIX) {
            return Err(unknown());
        }
        let record = self
            .store
            .find_api_key(&keys::hash(key))
            .await
            .map_err(ResolveError::Store)?;
        match record {
            Some(record) if record.revoked.is_none() => Ok(Caller::authenticated(
                Some(record.user),
                &record.roles,
                Credential::ApiKey,
            )),
            _ => Err(unknown()),
        }
    }
}

/// Why no caller could be told.
#[derive(Debug)]
pub enum ResolveError {
    /// The credential does not hold (401).
    Denied(Denied),
    /// The issuer's keys cannot be read now (503).
    IssuerUnavailable(String),
    /// The database failed (500).
    Store(crate::store::StoreError),
}

impl ResolveError {
    /// The exception of the error table.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            ResolveError::Denied(denied) => denied.to_api_error(),
            ResolveError::IssuerUnavailable(why) => ApiError::new(
                ErrorCode::IssuerUnavailable,
                format!(
                    "The token cannot be checked now: the keys of the token issuer cannot be \
                     read ({why}). Try again later."
                ),
            ),
            ResolveError::Store(error) => ApiError::internal("reading an API key", error),
        }
    }
}

/// The paths that answer without a credential when authentication is on.
pub fn is_public_path(path: &str) -> bool {
    matches!(
        path.trim_end_matches('/'),
        "" | "/conformance" | "/api" | "/health" | "/metrics" | "/sign-in" | "/sign-out"
    )
}

/// The cookie a browser signs in with (`POST /sign-in`): it carries what
/// `Authorization: Bearer` would (an API key, the admin token, an issuer's token), so a
/// browser, which cannot send that header from a link or a form, reaches the pages its
/// user may see. `HttpOnly` (no script reads it) and `SameSite=Strict` (no other site's
/// page or form sends it).
pub const SIGN_IN_COOKIE: &str = "ades_token";

/// Why a request's sign-in cookie was not accepted (the request went on without it).
#[derive(Debug, Clone)]
pub struct RejectedSignIn(pub String);

/// The token of the request's sign-in cookie (percent-decoded), if it carries one.
pub fn sign_in_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SIGN_IN_COOKIE)
        .map(|(_, value)| {
            url::form_urlencoded::parse(format!("t={value}").as_bytes())
                .map(|(_, token)| token.into_owned())
                .next()
                .unwrap_or_default()
        })
        .filter(|token| !token.is_empty())
}

/// Whether the request's only credential is the sign-in cookie.
fn signed_in_by_cookie_only(headers: &HeaderMap) -> bool {
    bearer_token(headers).is_none()
        && headers.get("x-api-key").is_none()
        && sign_in_cookie(headers).is_some()
}

/// The `Set-Cookie` value that signs a browser in with `token` (`secure` on HTTPS), or,
/// with `None`, signs it out.
pub fn sign_in_cookie_header(token: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match token {
        Some(token) => {
            let value: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
            format!("{SIGN_IN_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200{secure}")
        }
        None => format!("{SIGN_IN_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// `Authorization: Bearer <token>`'s token.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty())
}

/// Compares without stopping at the first difference, so timing tells nothing of the token.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut difference = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        difference |= usize::from(x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0));
    }
    difference == 0
}

/// How a refusal is answered: each façade's own exception document (WPS: an
/// `ows:ExceptionReport`; the OGC API: JSON, [`json_refusal`]).
pub type RefusalRenderer = fn(&Request, &ApiError) -> Response;

/// The middleware's state.
#[derive(Clone)]
pub struct CallerLayerState {
    pub authenticator: Authenticator,
    /// Renders refusals.
    pub render: RefusalRenderer,
}

/// Resolves the caller of every request and puts it in the request's extensions; answers
/// 401 (no or a bad credential outside the public paths), 403 (a known caller with no role
/// of this server) or 503 (the issuer's keys cannot be read) itself.
pub async fn resolve_caller(
    State(state): State<CallerLayerState>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = match state.authenticator.resolve(request.headers()).await {
        Ok(caller) => caller,
        // A sign-in cookie that no longer holds (a revoked key) must not lock the browser
        // out of the page that replaces it: the request goes on without a credential, and
        // the sign-in page says why.
        Err(ResolveError::Denied(denied)) if signed_in_by_cookie_only(request.headers()) => {
            request
                .extensions_mut()
                .insert(RejectedSignIn(denied.to_string()));
            Caller::anonymous()
        }
        Err(error) => return (state.render)(&request, &error.to_api_error()),
    };
    if state.authenticator.settings.enabled && !is_public_path(request.uri().path()) {
        let refusal = if caller.credential == Credential::Anonymous {
            Some(unauthenticated())
        } else if caller.roles.is_empty() {
            Some(Denied::Forbidden(format!(
                "{} has no role of this server (admin, user or reader); ask the operator for \
                 one.",
                shown_user(caller.user.as_deref())
            )))
        } else {
            None
        };
        if let Some(denied) = refusal {
            return (state.render)(&request, &denied.to_api_error());
        }
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The default [`RefusalRenderer`]: the OGC API's JSON exception.
pub fn json_refusal(_request: &Request, error: &ApiError) -> Response {
    let mut response = error.clone().into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// How long a client over its per-user job limit is told to wait.
pub const USER_LIMIT_RETRY_AFTER: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_exactly() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3cres"));
        assert!(!constant_time_eq(b"s3cre", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret-and-more", b"s3cret"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn roles_decide_what_a_caller_may_do() {
        let roles = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let reader =
            Caller::authenticated(Some("r".into()), &roles(&["reader"]), Credential::Token);
        assert!(matches!(
            reader.require_execute(),
            Err(Denied::Forbidden(_))
        ));
        assert!(reader.require_jobs().is_err());
        assert!(reader.require_deployer().is_err());
        let user =
            Caller::authenticated(Some("u".into()), &roles(&["USER", "x"]), Credential::ApiKey);
        assert_eq!(user.roles, vec![Role::User]);
        assert!(user.require_execute().is_ok());
        assert!(user.may_see(Some("u")));
        assert!(!user.may_see(Some("v")));
        assert!(!user.may_see(None));
        let admin = Caller::authenticated(Some("a".into()), &roles(&["admin"]), Credential::Token);
        assert!(admin.may_see(None) && admin.may_see(Some("u")));
        assert!(admin.require_deployer().is_ok());
        assert!(matches!(
            Caller::anonymous().require_execute(),
            Err(Denied::Unauthenticated(_))
        ));
        assert!(Caller::local(None).may_see(None));
    }

    #[test]
    fn only_the_landing_conformance_api_health_and_sign_in_are_public() {
        for path in [
            "/",
            "/conformance",
            "/api",
            "/health",
            "/api/",
            "/metrics",
            "/sign-in",
            "/sign-out",
        ] {
            assert!(is_public_path(path), "{path}");
        }
        for path in [
            "/processes",
            "/jobs",
            "/wps",
            "/apis",
            "/health/x",
            "/admin",
        ] {
            assert!(!is_public_path(path), "{path}");
        }
    }

    #[test]
    fn the_sign_in_cookie_carries_any_token_and_a_header_is_told_apart() {
        let token = "tok en;=,\"é";
        let set = sign_in_cookie_header(Some(token), true);
        assert!(set.contains("HttpOnly; SameSite=Strict"), "{set}");
        assert!(set.ends_with("; Secure"), "{set}");
        let pair = set.split(';').next().unwrap();
        assert!(
            !pair[SIGN_IN_COOKIE.len() + 1..].contains([' ', ';', ',', '"']),
            "{pair}"
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("theme=dark; {pair}; other=1")).unwrap(),
        );
        assert_eq!(sign_in_cookie(&headers).as_deref(), Some(token));
        assert!(signed_in_by_cookie_only(&headers));
        headers.insert("x-api-key", HeaderValue::from_static("ades_x"));
        assert!(!signed_in_by_cookie_only(&headers));
        let cleared = sign_in_cookie_header(None, false);
        assert!(cleared.starts_with("ades_token=;") && cleared.contains("Max-Age=0"));
        assert!(sign_in_cookie(&HeaderMap::new()).is_none());
    }
}
