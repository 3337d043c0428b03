//! Keeps input references away from the server's own network: unless the operator allows it
//! (`queue.allow_private_urls`), an `href` may not reach a loopback, private, link-local,
//! carrier-grade NAT, unique-local or unspecified address. Checked three times, because each
//! way around the others exists: on the URL's literal host, on every address a name
//! resolves to (so a public name pointing inward is refused), and on every redirect.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether `ip` is an ordinary public address ades may fetch from.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let carrier_grade_nat = a == 100 && (64..128).contains(&b);
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || carrier_grade_nat
        || a == 0)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let unique_local = (first & 0xfe00) == 0xfc00;
    let link_local = (first & 0xffc0) == 0xfe80;
    !(ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || unique_local || link_local)
}

/// Why `url` may not be fetched when its host is an address literal (or `localhost`) that
/// is not public; `None` when the literal host is fine or is a name (names are checked when
/// they resolve).
pub fn literal_host_problem(url: &reqwest::Url) -> Option<String> {
    let refused = |what: &str| {
        Some(format!(
            "{what} is a private or local address, which ades does not fetch inputs from \
             (the operator can allow it with queue.allow_private_urls)"
        ))
    };
    match url.host()? {
        url::Host::Ipv4(ip) if !is_public(IpAddr::V4(ip)) => refused(&ip.to_string()),
        url::Host::Ipv6(ip) if !is_public(IpAddr::V6(ip)) => refused(&ip.to_string()),
        url::Host::Domain(name) if name.eq_ignore_ascii_case("localhost") => refused(name),
        _ => None,
    }
}

/// A resolver that only hands out public addresses.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> = format!(
                    "{host} resolves only to private or local addresses, which ades does not \
                     fetch inputs from (the operator can allow it with queue.allow_private_urls)"
                )
                .into();
                return Err(refused);
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// Follows up to 10 redirects, refusing any to a literal private or local address.
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= 10 {
            return attempt.error("more than 10 redirects");
        }
        match literal_host_problem(attempt.url()) {
            Some(problem) => {
                let message = format!("redirected to {}: {problem}", attempt.url());
                attempt.error(message)
            }
            None => attempt.follow(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inward_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "93.184.216.34", "2001:4860:4860::8888"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn literal_hosts_are_checked() {
        let check = |u: &str| literal_host_problem(&reqwest::Url::parse(u).unwrap());
        assert!(check("http://127.0.0.1:8080/x").is_some());
        assert!(check("http://[::1]/x").is_some());
        assert!(check("http://localhost/x").is_some());
        assert!(check("http://169.254.169.254/latest/meta-data").is_some());
        assert!(check("https://example.org/data.tif").is_none());
        assert!(check("https://8.8.8.8/x").is_none());
    }

    #[tokio::test]
    async fn names_resolving_inward_are_refused() {
        let refused = PublicOnlyResolver
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("localhost resolves only inward");
        assert!(
            refused.to_string().contains("allow_private_urls"),
            "{refused}"
        );
    }
}
