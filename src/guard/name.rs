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

/// One entry of the host allowlist, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostPattern {
    /// The host exactly (lower case, no trailing dot; IPv6 in brackets).
    Exact(String),
    /// Any name under the domain: holds `.example.com` for `*.example.com`.
    Under(String),
}

impl HostPattern {
    /// Parses an allowlist entry: `api.example.com`, `*.example.com`, `203.0.113.7`,
    /// `[2001:db8::1]` (IDNs are converted to punycode, as the URL parser does).
    pub(crate) fn parse(entry: &str) -> Result<Self, PolicyError> {
        let bad = |problem| PolicyError::AllowedHost {
            entry: entry.to_owned(),
            problem,
        };
        let text = strip_dots(entry.trim());
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
        match host {
            url::Host::Domain(d) => {
                let d = strip_dots(&d).to_ascii_lowercase();
                if d.is_empty() {
                    Err(bad("empty host"))
                } else if wildcard {
                    Ok(HostPattern::Under(format!(".{d}")))
                } else {
                    Ok(HostPattern::Exact(d))
                }
            }
            _ if wildcard => Err(bad("a wildcard needs a domain, not an IP address")),
            ip => Ok(HostPattern::Exact(ip.to_string())),
        }
    }

    /// Whether the pattern admits `host`: the host serialisation of an http(s) URL, trailing
    /// dots stripped. The URL parser has already lower-cased it (and converted IDNs to
    /// punycode), so bytes compare exactly.
    pub(crate) fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => host == h,
            HostPattern::Under(suffix) => {
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
        assert_eq!(p, HostPattern::Under(".example.com".into()));
        assert!(p.matches("a.example.com"));
        assert!(p.matches("a.b.example.com"));
        assert!(!p.matches("example.com"));
        assert!(!p.matches("badexample.com"));
        let p = HostPattern::parse("2001:db8::1").unwrap();
        assert_eq!(p, HostPattern::Exact("[2001:db8::1]".into()));
        assert!(HostPattern::parse("*.10.0.0.1").is_err());
        assert!(HostPattern::parse("a.*.com").is_err());
        assert!(HostPattern::parse(" ").is_err());
        assert!(HostPattern::parse("exa mple.com").is_err());
    }
}
