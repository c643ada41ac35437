//! Host-name rules: names for the local host and private networks, cloud metadata names, and
//! the host allowlist for model-provided URLs.

use super::address::Opens;
use super::rejection::{PolicyError, Rejection};

/// Cloud metadata service names, refused whatever the policy (no hatch re-opens them).
const METADATA_NAMES: &[&str] = &["metadata", "metadata.google.internal"];

/// Names for the local host (RFC 6761 §6.3): re-opened only by the loopback hatch.
const LOOPBACK_RULES: &[&str] = &["localhost"];

/// Suffixes for private networks (RFC 6762 `.local`, RFC 8375 `.home.arpa`, ICANN's
/// `.internal`, the conventional `.localdomain`): the name itself or any name under it.
/// Re-opened only by the private-networks hatch.
const PRIVATE_SUFFIXES: &[&str] = &[".internal", ".local", ".localdomain", ".home.arpa"];

/// `name` without its trailing dots (the `url` crate keeps them; DNS treats them as the root).
pub(crate) fn strip_dots(name: &str) -> &str {
    let mut end = name.len();
    while end > 0 && name.as_bytes()[end - 1] == b'.' {
        end -= 1;
    }
    // A `.` is one byte, so `end` is a char boundary.
    name.get(..end).unwrap_or(name)
}

/// Whether `name` is `suffix` without its leading dot, or ends with `suffix`; ASCII
/// case-insensitive.
fn is_under(name: &str, suffix: &str) -> bool {
    let bare = &suffix[1..];
    if name.eq_ignore_ascii_case(bare) {
        return true;
    }
    name.len() > suffix.len()
        && name.is_char_boundary(name.len() - suffix.len())
        && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// The last labels any rule above can end in: a name ending in another label passes at once.
const LAST_LABELS: &[&str] = &[
    "localhost",
    "internal",
    "local",
    "localdomain",
    "arpa",
    "metadata",
];

/// The refusal of a host name (trailing dots already stripped), with the hatch that re-opens it.
pub(crate) fn check_name(name: &str) -> Option<(Rejection, Opens)> {
    // The hot path: most names end in a label no rule ends in. Bytes, not `rsplit`, so a
    // passing name costs a few nanoseconds.
    let bytes = name.as_bytes();
    let start = bytes.iter().rposition(|&c| c == b'.').map_or(0, |i| i + 1);
    let last = &bytes[start..];
    if !LAST_LABELS
        .iter()
        .any(|l| last.eq_ignore_ascii_case(l.as_bytes()))
    {
        return None;
    }
    if let Some(m) = METADATA_NAMES.iter().find(|m| name.eq_ignore_ascii_case(m)) {
        return Some((Rejection::MetadataName { name: m }, Opens::None));
    }
    for rule in LOOPBACK_RULES {
        if name.eq_ignore_ascii_case(rule) {
            return Some((Rejection::LocalName { rule }, Opens::Loopback));
        }
    }
    if is_under(name, ".localhost") {
        return Some((Rejection::LocalName { rule: ".localhost" }, Opens::Loopback));
    }
    PRIVATE_SUFFIXES
        .iter()
        .find(|s| is_under(name, s))
        .map(|rule| (Rejection::LocalName { rule }, Opens::Private))
}

/// Which hosts an allowlist entry admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostMatch {
    /// The host exactly (lower case, no trailing dot; IPv6 in brackets).
    Exact(String),
    /// Any name under the domain: holds `.example.com` for `*.example.com`.
    Under(String),
}

/// One entry of the host allowlist, normalised: the hosts, the scheme and the port it admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostPattern {
    pub(crate) host: HostMatch,
    /// `true` for https (the default), `false` for http.
    https: bool,
    /// The port (default: the scheme's, 443 or 80).
    port: u16,
}

/// Whether `domain` (lower case, no trailing dot) is itself a public suffix: on the Public
/// Suffix List (ICANN or private section: `com`, `co.uk`, `github.io`) or a single label its
/// implicit `*` rule makes one (an unknown top-level domain).
fn is_public_suffix(domain: &str) -> bool {
    use psl::Psl;
    psl::List
        .suffix(domain.as_bytes())
        .is_none_or(|s| s.as_bytes().len() == domain.len())
}

impl HostPattern {
    /// Parses an allowlist entry `[scheme://]host[:port]`: `api.example.com`,
    /// `https://api.example.com:8443`, `http://*.example.com`, `203.0.113.7`,
    /// `[2001:db8::1]:8443` (IDNs are converted to punycode, as the URL parser does). The
    /// scheme defaults to `https` and the port to the scheme's (443, or 80 for `http`).
    pub(crate) fn parse(entry: &str) -> Result<Self, PolicyError> {
        let bad = |problem| PolicyError::AllowedHost {
            entry: entry.to_owned(),
            problem,
        };
        let mut text = entry.trim();
        let https = match text.split_once("://") {
            Some((scheme, rest)) => {
                text = rest;
                if scheme.eq_ignore_ascii_case("https") {
                    true
                } else if scheme.eq_ignore_ascii_case("http") {
                    false
                } else {
                    return Err(bad("the scheme may only be http or https"));
                }
            }
            None => true,
        };
        if text.contains(['/', '?', '#', '@']) {
            return Err(bad(
                "an entry is `[scheme://]host[:port]`, without path or user",
            ));
        }
        // Split off the port: after `]` for a bracketed IPv6, after the only `:` otherwise
        // (a bare IPv6 has several and takes no port).
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let close = rest.find(']').ok_or_else(|| bad("unclosed `[`"))?;
            let after = &rest[close + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad("text after the IPv6 address")),
            };
            (&text[..close + 2], port)
        } else if text.matches(':').count() == 1 {
            let (h, p) = text.split_once(':').unwrap_or((text, ""));
            (h, Some(p))
        } else {
            (text, None)
        };
        let port = match port {
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(bad("the port must be 1 to 65535")),
                Ok(p) => p,
            },
            None if https => 443,
            None => 80,
        };
        let text = strip_dots(host);
        if text.is_empty() {
            return Err(bad("empty host"));
        }
        let (wildcard, rest) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if rest.contains('*') {
            return Err(bad("a wildcard may only be a leading `*.`"));
        }
        let bracketed;
        let rest = if rest.contains(':') && !rest.starts_with('[') {
            bracketed = format!("[{rest}]");
            bracketed.as_str()
        } else {
            rest
        };
        let host = url::Host::parse(rest).map_err(|_| bad("not a host name or IP address"))?;
        let host = match host {
            url::Host::Domain(d) => {
                let d = strip_dots(&d).to_ascii_lowercase();
                if d.is_empty() {
                    return Err(bad("empty host"));
                } else if wildcard {
                    if is_public_suffix(&d) {
                        return Err(bad("a wildcard over a public suffix (`*.com`, `*.co.uk`, \
                             `*.github.io`) admits every site under it: name the domain"));
                    }
                    HostMatch::Under(format!(".{d}"))
                } else {
                    HostMatch::Exact(d)
                }
            }
            _ if wildcard => return Err(bad("a wildcard needs a domain, not an IP address")),
            ip => HostMatch::Exact(ip.to_string()),
        };
        Ok(HostPattern { host, https, port })
    }

    /// Whether the pattern admits a URL with this scheme, host and port (`port` is the URL's
    /// port or its scheme's default). `host` is the host serialisation of an http(s) URL,
    /// trailing dots stripped: the URL parser has already lower-cased it (and converted IDNs
    /// to punycode), so bytes compare exactly.
    pub(crate) fn matches(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let https = match scheme {
            "https" => true,
            "http" => false,
            _ => return false,
        };
        if https != self.https || port != Some(self.port) {
            return false;
        }
        match &self.host {
            HostMatch::Exact(h) => host == h,
            HostMatch::Under(suffix) => {
                host.len() > suffix.len() && host.ends_with(suffix.as_str())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            check_name("LOCALHOST").map(|r| r.0),
            Some(Rejection::LocalName { rule: "localhost" })
        );
        assert_eq!(
            check_name("a.b.localhost").map(|r| r.0),
            Some(Rejection::LocalName { rule: ".localhost" })
        );
        assert_eq!(
            check_name("metadata.google.internal").map(|r| r.0),
            Some(Rejection::MetadataName {
                name: "metadata.google.internal"
            })
        );
        assert_eq!(
            check_name("db.corp.internal").map(|r| r.0),
            Some(Rejection::LocalName { rule: ".internal" })
        );
        assert_eq!(
            check_name("home.arpa").map(|r| r.0),
            Some(Rejection::LocalName { rule: ".home.arpa" })
        );
        assert_eq!(check_name("notlocalhost.com"), None);
        assert_eq!(check_name("internal.example.com"), None);
        assert_eq!(check_name("mylocal"), None);
        assert_eq!(check_name("arpa"), None);
    }

    #[test]
    fn patterns() {
        let p = HostPattern::parse("*.Example.COM.").unwrap();
        assert_eq!(p.host, HostMatch::Under(".example.com".into()));
        assert!(p.matches("https", "a.example.com", Some(443)));
        assert!(p.matches("https", "a.b.example.com", Some(443)));
        assert!(!p.matches("https", "example.com", Some(443)));
        assert!(!p.matches("https", "badexample.com", Some(443)));
        assert!(!p.matches("http", "a.example.com", Some(80)));
        assert!(!p.matches("https", "a.example.com", Some(8443)));
        let p = HostPattern::parse("2001:db8::1").unwrap();
        assert_eq!(p.host, HostMatch::Exact("[2001:db8::1]".into()));
        let p = HostPattern::parse("http://[2001:db8::1]:8080").unwrap();
        assert!(p.matches("http", "[2001:db8::1]", Some(8080)));
        let p = HostPattern::parse("HTTP://api.example.com").unwrap();
        assert!(p.matches("http", "api.example.com", Some(80)));
        assert!(!p.matches("https", "api.example.com", Some(443)));
        let p = HostPattern::parse("api.example.com:8443").unwrap();
        assert!(p.matches("https", "api.example.com", Some(8443)));
        for bad in [
            "*.10.0.0.1",
            "a.*.com",
            " ",
            "exa mple.com",
            "ftp://a.com",
            "a.com:0",
            "a.com:99999",
            "https://a.com/x",
            "u@a.com",
            "*.com",
            "*.co.uk",
            "*.github.io",
            "*.COM.",
            "*.unknowntld",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
        assert!(HostPattern::parse("*.example.co.uk").is_ok());
    }
}
