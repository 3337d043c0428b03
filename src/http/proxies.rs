//! Trusted proxies. `Host` names the server a client connected to; `X-Forwarded-Proto`,
//! `X-Forwarded-Host` and `X-Forwarded-For` say what a reverse proxy saw, and anyone can
//! send them. They are believed only from the addresses the operator lists
//! (`server.trusted_proxies`): from anyone else, links are built from `Host` alone (or from
//! `server.public_url`, which always wins) and the client is the TCP peer.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

/// The proxies whose forwarded headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// From addresses (`10.0.0.5`, `::1`) and networks (`10.0.0.0/8`); `Err` names the
    /// first entry that is neither.
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "server.trusted_proxies: {entry:?} is not an IP address or network \
                             (like 10.0.0.5 or 10.0.0.0/8)"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    /// Whether `peer` is one of the trusted proxies.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        let peer = canonical(peer);
        self.0.iter().any(|net| net.contains(&peer))
    }

    /// Whether the forwarded headers of a request from `peer` are believed (`None`: the
    /// peer is unknown, as for an in-process test server; nothing is believed).
    pub fn believes(&self, peer: Option<IpAddr>) -> bool {
        peer.is_some_and(|peer| self.trusts(peer))
    }

    /// Who the client is: the TCP peer, unless it is a trusted proxy; then the nearest
    /// address in `X-Forwarded-For` (read from the right, skipping trusted proxies) that
    /// is not one. A forged entry further left is never reached.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .collect();
        forwarded
            .into_iter()
            .rev()
            .find(|a| !self.trusts(*a))
            .unwrap_or(peer)
    }
}

/// IPv4-mapped IPv6 peers (a dual-stack listener) compare as their IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn addresses_and_networks_are_parsed_and_matched() {
        let trusted = proxies(&["10.0.0.0/8", "127.0.0.1", "fd00::/8"]);
        assert!(trusted.trusts("10.1.2.3".parse().unwrap()));
        assert!(trusted.trusts("127.0.0.1".parse().unwrap()));
        assert!(trusted.trusts("::ffff:127.0.0.1".parse().unwrap()));
        assert!(trusted.trusts("fd12::1".parse().unwrap()));
        assert!(!trusted.trusts("127.0.0.2".parse().unwrap()));
        assert!(!trusted.believes(None));
        let bad = TrustedProxies::parse(&["proxy.local".to_string()]).unwrap_err();
        assert!(bad.contains("proxy.local"), "{bad}");
    }

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_forwards() {
        let trusted = proxies(&["10.0.0.1"]);
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.1.1.1, 203.0.113.7, 10.0.0.1"),
        );
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "198.51.100.9".parse().unwrap();
        // From the proxy: the nearest untrusted hop; the forged 1.1.1.1 is never reached.
        assert_eq!(
            trusted.client_address(proxy, &headers),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        // From anyone else: the header is not believed.
        assert_eq!(trusted.client_address(stranger, &headers), stranger);
        assert_eq!(trusted.client_address(proxy, &HeaderMap::new()), proxy);
    }
}
