//! The address guard: unless the operator allows it (`queue.allow_private_urls`), no URL
//! the server fetches or calls (input references, callbacks) may reach a loopback, private,
//! link-local, carrier-grade NAT, unique-local, reserved, documentation, benchmarking,
//! multicast or unspecified address, nor an IPv6 form that carries such an IPv4 address
//! (IPv4-mapped, IPv4-compatible, NAT64, 6to4; Teredo is refused whole). Checked three
//! times, because each way around the others exists: on the URL's literal host, on every
//! address a name resolves to (so a public name pointing inward is refused), and on every
//! redirect.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether `ip` is an ordinary public address ades may fetch from.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let in_24 = |net: [u8; 3]| [a, b, c] == net;
    let carrier_grade_nat = a == 100 && (64..128).contains(&b);
    // 192.0.0.0/24: IETF protocol assignments (DS-Lite, NAT64 discovery, ...).
    let protocol_assignments = in_24([192, 0, 0]);
    // 198.18.0.0/15: benchmarking networks.
    let benchmarking = a == 198 && (b == 18 || b == 19);
    // 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24: documentation.
    let documentation = in_24([192, 0, 2]) || in_24([198, 51, 100]) || in_24([203, 0, 113]);
    // 240.0.0.0/4: reserved (and 255.255.255.255, broadcast).
    let reserved = a >= 240;
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || carrier_grade_nat
        || protocol_assignments
        || benchmarking
        || documentation
        || reserved
        || a == 0)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_ipv4(ip) {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    let first = segments[0];
    let unique_local = (first & 0xfe00) == 0xfc00;
    let link_local = (first & 0xffc0) == 0xfe80;
    // fec0::/10, deprecated site-local: still routed inward where it is used.
    let site_local = (first & 0xffc0) == 0xfec0;
    // 2001:0::/32 Teredo hides its client's IPv4 address: refused whole.
    let teredo = first == 0x2001 && segments[1] == 0;
    let documentation = first == 0x2001 && segments[1] == 0x0db8;
    // 100::/64: discard-only.
    let discard = first == 0x0100 && segments[1..4] == [0, 0, 0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || unique_local
        || link_local
        || site_local
        || teredo
        || documentation
        || discard)
}

/// The IPv4 address an IPv6 address stands for, where the form carries one: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, deprecated), NAT64 (`64:ff9b::/96`
/// and the local-use `64:ff9b:1::/48`) and 6to4 (`2002:AABB:CCDD::/48`).
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(mapped) = ip.to_ipv4_mapped() {
        return Some(mapped);
    }
    let compatible = s[..6] == [0; 6] && !(ip.is_loopback() || ip.is_unspecified());
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    let nat64_local = s[..3] == [0x64, 0xff9b, 1];
    if compatible || nat64 || nat64_local {
        return Some(low);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

/// Why `url` may not be fetched when its host is an address literal (or `localhost`) that
/// is not public; `None` when the literal host is fine or is a name (names are checked when
/// they resolve).
pub fn literal_host_problem(url: &reqwest::Url) -> Option<String> {
    let refused = |what: &str| {
        Some(format!(
            "{what} is a private or local address, which ades does not connect to \
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
                     connect to (the operator can allow it with queue.allow_private_urls)"
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
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "240.0.0.1",
            "255.255.255.255",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::a00:1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:db8::1",
            "fec0::1",
            "100::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "93.184.216.34",
            "2001:4860:4860::8888",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "::ffff:8.8.8.8",
            "198.20.0.1",
            "192.0.1.1",
        ] {
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
