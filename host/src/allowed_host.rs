//! Parsing and matching the entries of a flow's `allowed_outbound_hosts`.
//!
//! A leaf module: the flow loader parses the entries and the `http`
//! integration matches URLs against them, so it sits apart from both.

use reqwest::Url;

/// One entry of a flow's `allowed_outbound_hosts`: `SCHEME://HOST[:PORT]`,
/// where the scheme is `http`, `https` or `*`, the host a name, an IP
/// address (IPv6 in brackets), `*` (any) or `*.example.com` (any subdomain),
/// and the port a number or `*`; without a port, the scheme's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    /// As written.
    pub text: String,
    scheme: Option<String>,
    host: HostPattern,
    port: Option<Option<u16>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Suffix(String),
    Exact(String),
}

impl AllowedHost {
    /// Parses an entry; the error says what is wrong.
    pub fn parse(text: &str) -> Result<AllowedHost, String> {
        let example = "expected SCHEME://HOST[:PORT], e.g. `https://api.example.com`, \
                       `http://127.0.0.1:*` or `https://*.example.com:8443`";
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("`{text}`: no scheme; {example}"))?;
        let scheme = match scheme {
            "*" => None,
            "http" | "https" => Some(scheme.to_string()),
            other => {
                return Err(format!(
                    "`{text}`: scheme `{other}` is not `http`, `https` or `*`"
                ))
            }
        };
        if rest.is_empty() {
            return Err(format!("`{text}`: no host; {example}"));
        }
        if rest.contains(['/', '?', '#', '@']) {
            return Err(format!(
                "`{text}`: only a scheme, host and port are allowed (no path, query or user); {example}"
            ));
        }
        // The port is after the last `:` that is not inside an IPv6 address.
        let (host, port) = if let Some(end) = rest.strip_prefix('[').and_then(|r| r.find(']')) {
            let host = &rest[..end + 2];
            match &rest[end + 2..] {
                "" => (host, None),
                p => match p.strip_prefix(':') {
                    Some(p) => (host, Some(p)),
                    None => return Err(format!("`{text}`: bad IPv6 host; {example}")),
                },
            }
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        let port = match port {
            None => None,
            Some("*") => Some(None),
            Some(p) => Some(Some(p.parse::<u16>().map_err(|_| {
                format!("`{text}`: port `{p}` is not a number from 0 to 65535 or `*`")
            })?)),
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostPattern::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') {
                return Err(format!("`{text}`: bad wildcard host; {example}"));
            }
            HostPattern::Suffix(format!(".{suffix}"))
        } else if host.is_empty() || host.contains('*') {
            return Err(format!(
                "`{text}`: a host is a name, an address, `*` or `*.domain`; {example}"
            ));
        } else {
            HostPattern::Exact(host)
        };
        Ok(AllowedHost {
            text: text.to_string(),
            scheme,
            host,
            port,
        })
    }

    /// Whether a URL's scheme, host and port are allowed by this entry.
    pub fn allows(&self, url: &Url) -> bool {
        if self.scheme.as_deref().is_some_and(|s| s != url.scheme()) {
            return false;
        }
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Suffix(s) => host.ends_with(s.as_str()),
            HostPattern::Exact(h) => *h == host,
        };
        let port_ok = match self.port {
            Some(None) => true,
            Some(Some(p)) => url.port_or_known_default() == Some(p),
            None => url.port().is_none() || url.port() == default_port(url.scheme()),
        };
        host_ok && port_ok
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(pattern: &str, url: &str) -> bool {
        AllowedHost::parse(pattern)
            .unwrap()
            .allows(&Url::parse(url).unwrap())
    }

    #[test]
    fn allow_list_entries_match_scheme_host_and_port() {
        assert!(allows("http://127.0.0.1:*", "http://127.0.0.1:8080/x"));
        assert!(!allows("http://127.0.0.1:*", "https://127.0.0.1:8080/x"));
        assert!(!allows("http://127.0.0.1:*", "http://127.0.0.2:8080/x"));
        assert!(allows(
            "https://api.example.com",
            "https://API.example.com/v1"
        ));
        assert!(!allows(
            "https://api.example.com",
            "https://api.example.com:8443/"
        ));
        assert!(allows("https://*.example.com", "https://a.b.example.com/"));
        assert!(!allows("https://*.example.com", "https://example.com/"));
        assert!(!allows("https://*.example.com", "https://evilexample.com/"));
        assert!(allows("*://*:*", "http://anything:1/"));
        assert!(allows("http://[::1]:8080", "http://[::1]:8080/"));
        assert!(allows("http://localhost:80", "http://localhost/"));
    }

    #[test]
    fn bad_allow_list_entries_say_why() {
        for (bad, why) in [
            ("127.0.0.1", "no scheme"),
            ("ftp://x", "scheme `ftp`"),
            ("http://x/path", "no path"),
            ("http://x:port", "port `port`"),
            ("http://a*b", "a host is"),
            ("http://", "no host"),
        ] {
            let e = AllowedHost::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
