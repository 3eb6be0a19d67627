//! The one guard for URLs Folio calls on a user's behalf (webhooks now, remote inputs later):
//! http(s) only, resolved once, private and reserved addresses refused unless allowed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use url::Url;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GuardError {
    #[error("is not a valid URL: {0}")]
    Parse(String),
    #[error("must use http or https")]
    Scheme,
    #[error("has no host")]
    NoHost,
    #[error("must not carry a user name or password")]
    Credentials,
    #[error("host {0} does not resolve")]
    Unresolved(String),
    #[error("resolves to {0}, a private or reserved address")]
    Private(IpAddr),
    #[error("is longer than {MAX_URL} characters")]
    TooLong,
}

/// The longest URL a request may name.
pub const MAX_URL: usize = 2_048;

/// Checks what can be checked without the network; used when a request names a URL.
pub fn check_syntax(raw: &str) -> Result<Url, GuardError> {
    let url = Url::parse(raw).map_err(|e| GuardError::Parse(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(GuardError::Scheme);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(GuardError::NoHost);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(GuardError::Credentials);
    }
    Ok(url)
}

/// What can be checked when a request names a URL, before anything is stored or queued: its
/// length and syntax, and its host when that is an address or `localhost` (a private one is
/// refused unless allowed). A host name is resolved and checked at every connection instead,
/// since what it resolves to may change.
pub fn check_accepted(raw: &str, allowed: &[IpNet]) -> Result<Url, GuardError> {
    if raw.len() > MAX_URL {
        return Err(GuardError::TooLong);
    }
    let url = check_syntax(raw)?;
    check_named_host(url.host_str().unwrap_or_default(), allowed)?;
    Ok(url)
}

/// The host part of [`check_accepted`], for hosts named outside a URL (an FTP server's): an
/// address, or `localhost`, that is private is refused unless allowed; a name passes, to be
/// resolved and checked at each connection.
pub fn check_named_host(host: &str, allowed: &[IpNet]) -> Result<(), GuardError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    let ip = match host.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) => (name == "localhost" || name.ends_with(".localhost"))
            .then_some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    };
    ip.map_or(Ok(()), |ip| usable(ip, allowed))
}

/// An address Folio may connect to: public, or in a network the configuration allows.
fn usable(ip: IpAddr, allowed: &[IpNet]) -> Result<(), GuardError> {
    let ip = canonical(ip);
    if !is_public(ip) && !allowed.iter().any(|net| net.contains(&ip)) {
        return Err(GuardError::Private(ip));
    }
    Ok(())
}

/// Resolves the URL's host once and returns the addresses to connect to (pin them: never
/// resolve again), or why none may be used.
pub async fn resolve(url: &Url, allowed: &[IpNet]) -> Result<Vec<SocketAddr>, GuardError> {
    let host = url.host_str().ok_or(GuardError::NoHost)?;
    let port = url.port_or_known_default().ok_or(GuardError::Scheme)?;
    resolve_host(host, port, allowed).await
}

/// Resolves a host name or address once, as `resolve` does a URL's (for protocols other
/// than HTTP: an FTP server's).
pub async fn resolve_host(
    host: &str,
    port: u16,
    allowed: &[IpNet],
) -> Result<Vec<SocketAddr>, GuardError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(GuardError::NoHost);
    }
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| GuardError::Unresolved(host.to_string()))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(GuardError::Unresolved(host.to_string()));
    }
    // Every address must be acceptable: a name that resolves to a public and a private
    // address is refused, so a rebinding trick cannot pick the private one.
    for addr in &addrs {
        usable(addr.ip(), allowed)?;
    }
    Ok(addrs)
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local() // 169.254/16, where instance metadata lives
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link local
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || (first == 0x0064 && ip.segments()[1] == 0xff9b)) // NAT64 to anything
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax() {
        assert!(check_syntax("https://example.com/hook").is_ok());
        assert_eq!(
            check_syntax("ftp://example.com").unwrap_err(),
            GuardError::Scheme
        );
        assert_eq!(
            check_syntax("file:///etc/passwd").unwrap_err(),
            GuardError::Scheme
        );
        assert_eq!(
            check_syntax("http://u:p@example.com").unwrap_err(),
            GuardError::Credentials
        );
        assert!(matches!(
            check_syntax("not a url"),
            Err(GuardError::Parse(_))
        ));
    }

    #[tokio::test]
    async fn private_addresses_are_refused_unless_allowed() {
        for raw in [
            "http://127.0.0.1/",
            "http://10.1.2.3/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fd00::1]/",
            "http://100.64.0.1/",
            "http://localhost/",
        ] {
            let url = check_syntax(raw).unwrap();
            assert!(
                matches!(resolve(&url, &[]).await, Err(GuardError::Private(_))),
                "{raw} was not refused"
            );
        }
        let url = check_syntax("http://127.0.0.1:8080/").unwrap();
        let allowed: Vec<IpNet> = vec!["127.0.0.0/8".parse().unwrap()];
        assert_eq!(
            resolve(&url, &allowed).await.unwrap(),
            vec!["127.0.0.1:8080".parse().unwrap()]
        );
    }

    #[test]
    fn private_hosts_are_refused_when_a_request_names_them() {
        for raw in [
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.7/hook",
            "http://[::1]:8080/",
            "http://localhost/hook",
            "http://api.localhost./hook",
            "http://2130706433/", // 127.0.0.1 as one number
        ] {
            assert!(
                matches!(check_accepted(raw, &[]), Err(GuardError::Private(_))),
                "{raw}"
            );
        }
        let loopback: IpNet = "127.0.0.0/8".parse().unwrap();
        assert!(check_accepted("http://localhost:9/hook", &[loopback]).is_ok());
        // A name is resolved (and checked) at each connection, not here.
        assert!(check_accepted("https://hooks.example.com/x", &[]).is_ok());
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL));
        assert_eq!(check_accepted(&long, &[]), Err(GuardError::TooLong));
    }

    #[tokio::test]
    async fn public_literals_pass() {
        let url = check_syntax("https://93.184.216.34/x").unwrap();
        assert_eq!(resolve(&url, &[]).await.unwrap()[0].port(), 443);
    }
}
