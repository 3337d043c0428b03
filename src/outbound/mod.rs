//! The one way out. Every URL the server fetches or calls on a client's behalf (input
//! references, callbacks; remote processes and packages later) goes through a client built
//! here and a [`check_url`] first, so the address guard ([`guard`]) holds everywhere:
//! unless the operator allows it, nothing reaches the server's own network, by literal
//! address, by a name resolving inward, or by a redirect.

pub mod guard;

use std::time::Duration;

/// Timeouts of an outbound client.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Longest wait for a connection.
    pub connect: Duration,
    /// Longest the other side may send nothing (before the headers or within the body).
    pub read: Duration,
    /// Longest a whole exchange may take; `None` for no bound (a large input file on a slow
    /// link is legitimate).
    pub total: Option<Duration>,
}

/// A client for outbound calls. Unless `allow_private_urls`, names resolve only to public
/// addresses and redirects are re-checked (at most 10); with it, up to 10 redirects are
/// followed anywhere. Proxies come from the usual environment variables (start-up refuses
/// them while the guard is on, see [`proxy_problem`]).
pub fn client(allow_private_urls: bool, timeouts: Timeouts) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("ades/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(timeouts.connect)
        .read_timeout(timeouts.read);
    if let Some(total) = timeouts.total {
        builder = builder.timeout(total);
    }
    if !allow_private_urls {
        builder = builder
            .dns_resolver(std::sync::Arc::new(guard::PublicOnlyResolver))
            .redirect(guard::redirect_policy());
    }
    builder
        .build()
        .expect("the HTTP client has a valid static configuration")
}

/// Why ades will not call `url`: not http(s), or (unless `allow_private_urls`) a literal
/// host on the server's own network. Names are checked when they resolve.
pub fn check_url(url: &reqwest::Url, allow_private_urls: bool) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{} is not an http(s) URL", shown_url(url)));
    }
    if url.host().is_none() {
        return Err(format!("{} has no host", shown_url(url)));
    }
    if allow_private_urls {
        return Ok(());
    }
    match guard::literal_host_problem(url) {
        Some(problem) => Err(format!("{}: {problem}", shown_url(url))),
        None => Ok(()),
    }
}

/// `scheme://host[:port]/path`: no credentials, no query, no fragment, which may be
/// secrets (signed URLs, tokens of a callback receiver). How logs and messages name a URL.
pub fn shown_url(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// [`shown_url`] of a text that may not be a URL at all.
pub fn shown(text: &str) -> String {
    match reqwest::Url::parse(text.trim()) {
        Ok(url) => shown_url(&url),
        Err(_) => "(not a URL)".to_string(),
    }
}

/// The proxy variables the HTTP client obeys.
const PROXY_VARIABLES: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Why the server must not start with this environment: a proxy variable is set while the
/// address guard is on. Through a proxy the proxy resolves names and connects, so the guard
/// would check nothing; refusing is better than a guard that silently is not there.
pub fn proxy_problem(allow_private_urls: bool) -> Option<String> {
    proxy_problem_in(allow_private_urls, |name| std::env::var(name).ok())
}

fn proxy_problem_in(
    allow_private_urls: bool,
    lookup: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    if allow_private_urls {
        return None;
    }
    let set: Vec<&str> = PROXY_VARIABLES
        .iter()
        .copied()
        .filter(|name| lookup(name).is_some_and(|v| !v.trim().is_empty()))
        .collect();
    if set.is_empty() {
        return None;
    }
    Some(format!(
        "{} is set, so input references and callbacks would go through that proxy, where \
         ades cannot check which addresses they reach. Unset it, or set \
         queue.allow_private_urls = true (ADES__QUEUE__ALLOW_PRIVATE_URLS=true) and make the \
         proxy refuse the server's own network itself.",
        set.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_secrets() {
        let url = reqwest::Url::parse("https://u:p@example.org/a/b.tif?sig=x#f").unwrap();
        assert_eq!(shown_url(&url), "https://example.org/a/b.tif");
        assert_eq!(shown("nope"), "(not a URL)");
    }

    #[test]
    fn only_public_http_urls_pass_the_check() {
        let check = |u: &str, allow| check_url(&reqwest::Url::parse(u).unwrap(), allow);
        assert!(check("https://example.org/hook", false).is_ok());
        assert!(check("http://127.0.0.1:8080/hook?token=t", false)
            .unwrap_err()
            .contains("allow_private_urls"));
        assert!(!check("http://127.0.0.1:8080/hook?token=t", false)
            .unwrap_err()
            .contains("token"));
        assert!(check("http://127.0.0.1:8080/hook", true).is_ok());
        assert!(check("ftp://example.org/x", true).is_err());
        assert!(check("file:///etc/passwd", true).is_err());
    }

    #[test]
    fn a_proxy_is_refused_while_the_guard_is_on() {
        let with_proxy = |name: &str| (name == "https_proxy").then(|| "http://p:3128".into());
        let problem = proxy_problem_in(false, with_proxy).expect("refused");
        assert!(problem.contains("https_proxy"), "{problem}");
        assert!(proxy_problem_in(true, with_proxy).is_none());
        assert!(proxy_problem_in(false, |_| None).is_none());
        assert!(proxy_problem_in(false, |_| Some(" ".into())).is_none());
    }
}
