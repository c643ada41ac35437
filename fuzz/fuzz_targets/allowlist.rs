//! Allowlist entries (`[scheme://]host[:port]`, wildcards judged against the Public Suffix
//! List): building a policy from any entry never panics; an accepted entry never admits a URL
//! of another scheme or port than it names, nor a wildcard a public suffix.
#![no_main]

use agent_webhooks::guard::{Origin, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(2, '\n');
    let entry = parts.next().unwrap_or_default();
    let url = parts.next().unwrap_or_default();
    let Ok(policy) = Policy::builder().allow_host(entry).build() else {
        return;
    };
    // A wildcard entry that built is not over a public suffix.
    if let Some(domain) = entry
        .trim()
        .rsplit("://")
        .next()
        .and_then(|e| e.strip_prefix("*."))
    {
        let domain = domain.split(':').next().unwrap_or_default();
        assert!(
            !["com", "co.uk", "github.io", "net", "org"]
                .contains(&domain.to_ascii_lowercase().trim_end_matches('.'))
        );
    }
    let Ok(parsed) = policy.parse(url, Origin::Model) else {
        return;
    };
    // Admitted: then an entry named its scheme (https unless `http://`) and port.
    let entry_lower = entry.trim().to_ascii_lowercase();
    let http_entry = entry_lower.starts_with("http://");
    assert_eq!(
        parsed.scheme() == "http",
        http_entry,
        "{entry} admitted {url}"
    );
    let default = if http_entry { 80 } else { 443 };
    let named_port = parsed.port_or_known_default() != Some(default);
    if named_port {
        assert!(entry_lower.contains(&format!(":{}", parsed.port_or_known_default().unwrap_or(0))));
    }
});
