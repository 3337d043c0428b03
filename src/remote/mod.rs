//! Remote OGC API - Processes servers (the EMS side): the allow-list of the configuration
//! (`[remotes.<name>]`) and a small Part 1 client for them: describe a process, execute it
//! asynchronously, read the job's status and results, fetch a result file, dismiss the job.
//!
//! Only the servers of the configuration are ever called, and every call goes through the
//! one way out (`crate::outbound`: the URL check, then a client whose resolver and
//! redirects keep the address guard). The credentials of a remote (bearer token or basic)
//! are sent to that remote only — never with a link to another host — and never appear in
//! a log line, a message or `ades config`.

pub mod describe;

use crate::config::RemoteSection;
use crate::outbound::{check_url, shown_url, Timeouts};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The separator between a remote's name and a process id in a step's process
/// (`<remote>:<process id>`).
pub const SEPARATOR: char = ':';

/// The remote name and process id of a step process written `<remote>:<process id>`;
/// `None` for a local process id.
pub fn split_step_process(process: &str) -> Option<(&str, &str)> {
    process.split_once(SEPARATOR)
}

/// What went wrong with a call to a remote, said so a user knows which server to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteError {
    /// Short: `remote <name>: <what>` or the remote's own exception title.
    pub title: String,
    /// The remote's exception detail, or what ades could not do.
    pub detail: String,
    /// The HTTP status the remote answered, when it answered.
    pub status: Option<u16>,
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.title, self.detail)
    }
}

/// How ades proves itself to a remote.
#[derive(Clone)]
enum Credentials {
    None,
    Bearer(String),
    Basic { username: String, password: String },
}

/// One allowed remote server.
pub struct Remote {
    pub name: String,
    /// Its landing page, without a trailing '/'.
    base: Url,
    credentials: Credentials,
    /// For the calls: each bounded by `timeout_seconds` whole.
    client: reqwest::Client,
    /// For result files: no bound on the whole (a large file on a slow link is
    /// legitimate), only on silence.
    download: reqwest::Client,
    allow_private_urls: bool,
    /// First wait between two looks at a job, and the longest one.
    pub poll: Duration,
    pub max_poll: Duration,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("name", &self.name)
            .field("base", &shown_url(&self.base))
            .finish_non_exhaustive()
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Remote {
    /// The remote a `[remotes.<name>]` section describes, or what to change in it.
    pub fn from_section(
        name: &str,
        section: &RemoteSection,
        allow_private_urls: bool,
    ) -> Result<Remote, String> {
        if !valid_name(name) {
            return Err(format!(
                "{name:?} cannot name a remote: use 1 to 64 letters, digits, '_' and '-'"
            ));
        }
        let trimmed = section.url.trim().trim_end_matches('/');
        let base = Url::parse(trimmed).map_err(|_| {
            "url must be the server's landing page, like https://host/ogcapi".to_string()
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
            return Err("url must be an http(s) URL with a host".to_string());
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(
                "url must not carry credentials: give token, or username and password".into(),
            );
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err("url must have no query and no fragment".to_string());
        }
        let credentials = match (
            section.token.is_empty(),
            section.username.is_empty(),
            section.password.is_empty(),
        ) {
            (true, true, true) => Credentials::None,
            (false, true, true) => Credentials::Bearer(section.token.clone()),
            (true, false, _) => Credentials::Basic {
                username: section.username.clone(),
                password: section.password.clone(),
            },
            (false, _, _) => {
                return Err("give a token or a username and password, not both".to_string())
            }
            (true, true, false) => return Err("a password needs a username".to_string()),
        };
        if !(section.poll_seconds > 0.0 && section.max_poll_seconds >= section.poll_seconds) {
            return Err(
                "poll_seconds must be above 0 and max_poll_seconds at least poll_seconds"
                    .to_string(),
            );
        }
        if section.timeout_seconds == 0 {
            return Err("timeout_seconds must be at least 1".to_string());
        }
        let timeout = Duration::from_secs(section.timeout_seconds);
        let timeouts = Timeouts {
            connect: timeout.min(Duration::from_secs(10)),
            read: timeout,
            total: Some(timeout),
        };
        let client = crate::outbound::client(allow_private_urls, timeouts);
        let download = crate::outbound::client(
            allow_private_urls,
            Timeouts {
                total: None,
                ..timeouts
            },
        );
        Ok(Remote {
            name: name.to_string(),
            base,
            credentials,
            client,
            download,
            allow_private_urls,
            poll: Duration::from_secs_f64(section.poll_seconds),
            max_poll: Duration::from_secs_f64(section.max_poll_seconds),
        })
    }

    /// Whether calls carry credentials (its links are then not for others to read).
    pub fn has_credentials(&self) -> bool {
        !matches!(self.credentials, Credentials::None)
    }

    /// Its landing page, as configured (without a trailing '/').
    pub fn base(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// `<base>/processes/<id>`.
    pub fn process_url(&self, id: &str) -> String {
        format!("{}/processes/{id}", self.base())
    }

    /// Whether `url` is on this remote: same scheme, host and port, under its base path.
    pub fn owns(&self, url: &Url) -> bool {
        url.scheme() == self.base.scheme()
            && url.host_str() == self.base.host_str()
            && url.port_or_known_default() == self.base.port_or_known_default()
            && url
                .path()
                .starts_with(self.base.path().trim_end_matches('/'))
    }

    /// The process id a URL of this remote names (`<base>/processes/<id>[/execution]`).
    pub fn process_of(&self, url: &str) -> Option<String> {
        let rest = url.trim().strip_prefix(self.base())?;
        let id = rest
            .strip_prefix("/processes/")?
            .trim_end_matches('/')
            .trim_end_matches("/execution");
        (!id.is_empty() && !id.contains('/')).then(|| id.to_string())
    }

    fn error(&self, what: &str, detail: impl Into<String>) -> RemoteError {
        RemoteError {
            title: format!("remote {}: {what}", self.name),
            detail: detail.into(),
            status: None,
        }
    }

    /// One call: the URL checked by the guard, the credentials added only for this
    /// remote's own URLs.
    async fn send(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        prefer_async: bool,
    ) -> Result<reqwest::Response, RemoteError> {
        self.send_with(&self.client, method, url, body, prefer_async)
            .await
    }

    async fn send_with(
        &self,
        client: &reqwest::Client,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        prefer_async: bool,
    ) -> Result<reqwest::Response, RemoteError> {
        check_url(url, self.allow_private_urls)
            .map_err(|why| self.error("refused by the address guard", why))?;
        let mut request = client
            .request(method.clone(), url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if self.owns(url) {
            request = match &self.credentials {
                Credentials::None => request,
                Credentials::Bearer(token) => request.bearer_auth(token),
                Credentials::Basic { username, password } => {
                    request.basic_auth(username, Some(password))
                }
            };
        }
        if prefer_async {
            request = request.header("Prefer", "respond-async");
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.map_err(|err| {
            // reqwest names the URL in its errors: say it without query or credentials.
            let cause = err.without_url();
            self.error(
                &format!("{method} {} failed", shown_url(url)),
                cause.to_string(),
            )
        })
    }

    /// The answer's JSON when it is a success; else the remote's exception as the error.
    async fn json_of(
        &self,
        response: reqwest::Response,
        what: &str,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Value), RemoteError> {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .map_err(|e| self.error(what, e.without_url().to_string()))?;
        let document: Option<Value> = serde_json::from_str(&text).ok();
        if !status.is_success() {
            return Err(exception(&self.name, what, status, document.as_ref()));
        }
        match document {
            Some(document) => Ok((status, headers, document)),
            None => Err(self.error(what, format!("answered {status} with no JSON document"))),
        }
    }

    fn parse(&self, url: &str) -> Result<Url, RemoteError> {
        Url::parse(url).map_err(|_| self.error("bad URL", format!("{url:?} is not a URL")))
    }

    /// The remote's description of process `id` (OGC JSON).
    pub async fn describe(&self, id: &str) -> Result<Value, RemoteError> {
        let url = self.parse(&self.process_url(id))?;
        let response = self.send(Method::GET, &url, None, false).await?;
        let what = format!("describing process {id}");
        Ok(self.json_of(response, &what).await?.2)
    }

    /// Submits `document` to process `id` asynchronously; the job's URL.
    pub async fn execute(&self, id: &str, document: &Value) -> Result<Url, RemoteError> {
        let url = self.parse(&format!("{}/execution", self.process_url(id)))?;
        let response = self.send(Method::POST, &url, Some(document), true).await?;
        let what = format!("executing process {id}");
        let (status, headers, body) = self.json_of(response, &what).await?;
        let location = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let job_id = body.get("jobID").and_then(Value::as_str);
        let job = match (location, job_id) {
            (Some(location), _) => url
                .join(&location)
                .map_err(|_| self.error(&what, format!("its Location {location:?} is no URL")))?,
            (None, Some(job_id)) => self.parse(&format!("{}/jobs/{job_id}", self.base()))?,
            (None, None) => {
                return Err(self.error(
                    &what,
                    format!("answered {status} without a job (no Location, no jobID): it did not run the process asynchronously"),
                ))
            }
        };
        if !self.owns(&job) {
            return Err(self.error(
                &what,
                format!(
                    "its job {} is not on the configured server {}",
                    shown_url(&job),
                    self.base()
                ),
            ));
        }
        Ok(job)
    }

    /// The job's status document (`status`, `message`, `progress`, ...).
    pub async fn status(&self, job: &Url) -> Result<Value, RemoteError> {
        let response = self.send(Method::GET, job, None, false).await?;
        Ok(self.json_of(response, "reading a job's status").await?.2)
    }

    /// The job's results document; for a failed job, the remote's exception as the error.
    pub async fn results(&self, job: &Url) -> Result<Value, RemoteError> {
        let url = self.parse(&format!("{}/results", job.as_str().trim_end_matches('/')))?;
        let response = self.send(Method::GET, &url, None, false).await?;
        Ok(self.json_of(response, "reading a job's results").await?.2)
    }

    /// The content of a result file at `href` (on this remote or anywhere it points, the
    /// guard checking it), at most `max_bytes`.
    pub async fn fetch(
        &self,
        href: &str,
        max_bytes: u64,
    ) -> Result<(Vec<u8>, Option<String>), RemoteError> {
        let url = self.parse(href)?;
        let what = format!("fetching result {}", shown_url(&url));
        let mut response = self
            .send_with(&self.download, Method::GET, &url, None, false)
            .await?;
        if !response.status().is_success() {
            let status = response.status();
            let document = response.json::<Value>().await.ok();
            return Err(exception(&self.name, &what, status, document.as_ref()));
        }
        let media_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut content = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.error(&what, e.without_url().to_string()))?
        {
            content.extend_from_slice(&chunk);
            if content.len() as u64 > max_bytes {
                return Err(self.error(&what, format!("it is larger than {max_bytes} bytes")));
            }
        }
        Ok((content, media_type))
    }

    /// Dismisses the job (a job already gone counts as dismissed).
    pub async fn dismiss(&self, job: &Url) -> Result<(), RemoteError> {
        let response = self.send(Method::DELETE, job, None, false).await?;
        let status = response.status();
        if status.is_success() || status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        let document = response.json::<Value>().await.ok();
        Err(exception(
            &self.name,
            "dismissing a job",
            status,
            document.as_ref(),
        ))
    }
}

/// The error of an answer that is no success: the remote's OGC exception (`title`,
/// `detail`) when it sent one.
fn exception(
    remote: &str,
    what: &str,
    status: StatusCode,
    document: Option<&Value>,
) -> RemoteError {
    let text = |key: &str| {
        document
            .and_then(|d| d.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let (title, detail) = match (text("title"), text("detail")) {
        (Some(title), detail) => (
            format!("remote {remote}: {title}"),
            detail.unwrap_or_else(|| format!("{what}: the remote answered {status}")),
        ),
        (None, Some(detail)) => (format!("remote {remote}: {what} failed"), detail),
        (None, None) => (
            format!("remote {remote}: {what} failed"),
            format!("the remote answered {status}"),
        ),
    };
    RemoteError {
        title,
        detail,
        status: Some(status.as_u16()),
    }
}

/// The allow-list: every configured remote, by name. Cheap to clone.
#[derive(Clone, Default, Debug)]
pub struct Remotes {
    by_name: Arc<BTreeMap<String, Arc<Remote>>>,
}

impl Remotes {
    /// The remotes of the configuration, each with a guarded client.
    pub fn new(
        sections: &BTreeMap<String, RemoteSection>,
        allow_private_urls: bool,
    ) -> Result<Remotes, String> {
        let mut by_name = BTreeMap::new();
        for (name, section) in sections {
            let remote = Remote::from_section(name, section, allow_private_urls)
                .map_err(|e| format!("remotes.{name}: {e}"))?;
            by_name.insert(name.clone(), Arc::new(remote));
        }
        Ok(Remotes {
            by_name: Arc::new(by_name),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<Arc<Remote>> {
        self.by_name.get(name).cloned()
    }

    pub fn names(&self) -> Vec<String> {
        self.by_name.keys().cloned().collect()
    }

    /// The remote and process a process URL names, when it is on an allowed remote.
    pub fn process_at(&self, url: &str) -> Option<(Arc<Remote>, String)> {
        self.by_name
            .values()
            .find_map(|remote| Some((remote.clone(), remote.process_of(url)?)))
    }

    /// The remote a job URL is on.
    pub fn owner_of(&self, job: &Url) -> Option<Arc<Remote>> {
        self.by_name.values().find(|r| r.owns(job)).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(url: &str) -> RemoteSection {
        RemoteSection {
            url: url.to_string(),
            ..RemoteSection::default()
        }
    }

    #[test]
    fn a_remote_is_read_from_its_section_and_knows_its_urls() {
        let remote = Remote::from_section("eo", &section("https://h.example/ogc/"), false).unwrap();
        assert_eq!(
            remote.process_url("ndvi"),
            "https://h.example/ogc/processes/ndvi"
        );
        assert_eq!(
            remote.process_of("https://h.example/ogc/processes/ndvi/execution"),
            Some("ndvi".to_string())
        );
        assert_eq!(
            remote.process_of("https://other.example/ogc/processes/ndvi"),
            None
        );
        assert!(remote.owns(&Url::parse("https://h.example/ogc/jobs/1").unwrap()));
        assert!(!remote.owns(&Url::parse("https://h.example:8443/ogc/jobs/1").unwrap()));
        assert!(!remote.owns(&Url::parse("https://evil.example/ogc/jobs/1").unwrap()));
    }

    #[test]
    fn bad_sections_say_what_to_change() {
        let bad = |s: RemoteSection| Remote::from_section("eo", &s, false).unwrap_err();
        assert!(bad(section("ftp://h/x")).contains("http(s)"));
        assert!(bad(section("https://u:p@h/x")).contains("credentials"));
        let mut both = section("https://h/x");
        both.token = "t".into();
        both.username = "u".into();
        assert!(bad(both).contains("not both"));
        assert!(Remote::from_section("a b", &section("https://h"), false)
            .unwrap_err()
            .contains("letters"));
    }

    #[test]
    fn secrets_are_not_in_debug_output() {
        let mut s = section("https://h.example/x");
        s.token = "s3cret-token".into();
        let remote = Remote::from_section("eo", &s, false).unwrap();
        assert!(!format!("{remote:?}").contains("s3cret"));
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn the_remotes_exception_is_kept() {
        let e = exception(
            "eo",
            "executing process x",
            StatusCode::BAD_REQUEST,
            Some(&serde_json::json!({"title": "Bad input", "detail": "N must be >0"})),
        );
        assert_eq!(e.title, "remote eo: Bad input");
        assert_eq!(e.detail, "N must be >0");
    }
}
