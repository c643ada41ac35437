//! The guard: registry vectors, URL vectors, properties, policy building, resolved addresses,
//! redirects, and the `webhookctl check-url` command.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use agent_webhooks::guard::{
    Hatch, Mode, Origin, Policy, PolicyError, Rejection, SpecialBlock, special_block,
};
use agent_webhooks::http::HeaderMap;
use agent_webhooks::ipnet::IpNet;
use agent_webhooks::url;
use agent_webhooks::{Error, ErrorKind};
use proptest::prelude::*;

const REGISTRY: &str = include_str!("../data/iana-special-purpose.tsv");
const REGISTRY_URLS: &str = include_str!("../data/guard-registry-urls.tsv");
const URLS: &str = include_str!("../data/guard-urls.tsv");

fn data_lines(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.is_empty())
        .map(|(i, l)| (i + 1, l.split('\t').collect()))
}

/// The registry rows as the reference copy gives them: (prefix, verdict, source).
fn registry() -> Vec<(IpNet, String, String)> {
    data_lines(REGISTRY)
        .map(|(_, c)| (c[1].parse().unwrap(), c[2].to_owned(), c[3].to_owned()))
        .collect()
}

/// An independent reference classifier over the registry file: the most specific row decides;
/// `embedded` rows are judged by the IPv4 in the low 32 bits. `None` means allowed.
fn reference_verdict(rows: &[(IpNet, String, String)], addr: IpAddr) -> Option<IpNet> {
    let (net, verdict, _) = rows
        .iter()
        .filter(|(n, _, _)| n.contains(&addr))
        .max_by_key(|(n, _, _)| n.prefix_len())?;
    match (verdict.as_str(), addr) {
        ("allow", _) => None,
        ("embedded", IpAddr::V6(a)) => {
            reference_verdict(rows, IpAddr::V4(Ipv4Addr::from_bits(a.to_bits() as u32)))
        }
        _ => Some(*net),
    }
}

fn verdict_text(result: &Result<url::Url, Rejection>) -> String {
    match result {
        Ok(_) => "allow".into(),
        Err(Rejection::SpecialAddress { block, .. }) => {
            format!("deny special-address {}", block.prefix())
        }
        Err(r) => format!("deny {}", r.code()),
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some('u') => {
                let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
            }
            other => panic!("bad escape \\{other:?} in {s}"),
        }
    }
    out
}

fn vector_policy(name: &str) -> (Policy, Origin) {
    let dev = Policy::builder().development();
    match name {
        "operator" => (Policy::default(), Origin::Operator),
        "model" => (
            Policy::builder()
                .allowed_hosts([
                    "api.example.com",
                    "*.hooks.example.com",
                    "93.184.215.14",
                    "[2606:4700::1111]",
                ])
                .build()
                .unwrap(),
            Origin::Model,
        ),
        "dev-loopback" => (
            dev.dangerous().allow_loopback().build().unwrap(),
            Origin::Operator,
        ),
        "dev-private" => (
            dev.dangerous().allow_private_networks().build().unwrap(),
            Origin::Operator,
        ),
        "dev-network" => (
            dev.dangerous()
                .allow_network("10.20.0.0/16".parse().unwrap())
                .build()
                .unwrap(),
            Origin::Operator,
        ),
        other => panic!("unknown policy {other}"),
    }
}

fn run_vectors(file: &str, text: &str) -> usize {
    let mut failures = Vec::new();
    let mut count = 0;
    for (line, cols) in data_lines(text) {
        assert_eq!(cols.len(), 3, "{file}:{line}: three tab-separated columns");
        let (policy, origin) = vector_policy(cols[0]);
        let input = unescape(cols[1]);
        let got = verdict_text(&policy.parse(&input, origin));
        if got != cols[2] {
            failures.push(format!(
                "{file}:{line}: {:?}: expected `{}`, got `{got}`",
                cols[1], cols[2]
            ));
        }
        count += 1;
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    count
}

#[test]
fn the_tables_hold_exactly_the_registry_rows() {
    let expected: Vec<(IpNet, String, String)> = registry();
    let ours: Vec<(IpNet, String, String)> = SpecialBlock::all()
        .map(|b| {
            let verdict = if b.carries_ipv4() {
                "embedded"
            } else if b.is_refused() {
                "deny"
            } else {
                "allow"
            };
            let source = if b.is_registry_row() {
                "registry"
            } else {
                "policy"
            };
            (b.prefix(), verdict.to_owned(), source.to_owned())
        })
        .collect();
    let mut a = expected.clone();
    let mut b = ours.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert_eq!(expected.len(), 59);
}

#[test]
fn every_registry_row_first_middle_last() {
    // 146 lines: first, middle and last address of all 59 rows, duplicates removed.
    assert!(run_vectors("guard-registry-urls.tsv", REGISTRY_URLS) > 140);
}

#[test]
fn url_vectors() {
    assert!(run_vectors("guard-urls.tsv", URLS) > 200);
}

#[test]
fn classifier_agrees_with_the_reference_at_every_row_edge() {
    let rows = registry();
    for (net, _, _) in &rows {
        for addr in [net.network(), net.broadcast()] {
            // One step outside the row, too.
            let outside = match addr {
                IpAddr::V4(a) => [
                    IpAddr::V4(Ipv4Addr::from_bits(a.to_bits().wrapping_sub(1))),
                    IpAddr::V4(Ipv4Addr::from_bits(a.to_bits().wrapping_add(1))),
                ],
                IpAddr::V6(a) => [
                    IpAddr::V6(Ipv6Addr::from_bits(a.to_bits().wrapping_sub(1))),
                    IpAddr::V6(Ipv6Addr::from_bits(a.to_bits().wrapping_add(1))),
                ],
            };
            for a in [addr, outside[0], outside[1]] {
                assert_eq!(
                    special_block(a).map(SpecialBlock::prefix),
                    reference_verdict(&rows, a),
                    "{a}"
                );
            }
        }
    }
}

fn fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(0xff10 + (c as u32 - '0' as u32)).unwrap(),
            '.' => '。',
            c => c,
        })
        .collect()
}

/// Every WHATWG spelling of an IPv4 host we know, plus its IPv6 embeddings judged by it.
fn v4_spellings(a: Ipv4Addr) -> Vec<String> {
    let [b0, b1, b2, b3] = a.octets();
    let n = a.to_bits();
    let dotted = a.to_string();
    vec![
        dotted.clone(),
        format!("{n}"),
        format!("0x{n:x}"),
        format!("0{n:o}"),
        format!("0{b0:o}.0{b1:o}.0{b2:o}.0{b3:o}"),
        format!("0x{b0:x}.0x{b1:X}.0x{b2:x}.0x{b3:x}"),
        format!("{b0}.{b1}.{}", (u32::from(b2) << 8) | u32::from(b3)),
        format!("{b0}.{}", n & 0x00ff_ffff),
        format!("{dotted}."),
        dotted.bytes().map(|c| format!("%{c:02X}")).collect(),
        fullwidth(&dotted),
        format!("[::ffff:{dotted}]"),
        format!("[0:0:0:0:0:FFFF:{:x}:{:x}]", n >> 16, n & 0xffff),
        format!("[64:ff9b::{dotted}]"),
    ]
}

fn v6_spellings(a: Ipv6Addr) -> Vec<String> {
    let s = a.segments();
    let full: Vec<String> = s.iter().map(|g| format!("{g:04x}")).collect();
    let o = a.octets();
    vec![
        format!("[{a}]"),
        format!("[{}]", full.join(":")),
        format!("[{}]", a.to_string().to_uppercase()),
        format!(
            "[{}:{}.{}.{}.{}]",
            s[..6]
                .iter()
                .map(|g| format!("{g:x}"))
                .collect::<Vec<_>>()
                .join(":"),
            o[12],
            o[13],
            o[14],
            o[15]
        ),
    ]
}

fn refused_rows() -> Vec<IpNet> {
    registry()
        .into_iter()
        .filter(|(_, v, _)| v == "deny")
        .map(|(n, _, _)| n)
        .collect()
}

fn in_net(net: IpNet, random: u128) -> IpAddr {
    match net {
        IpNet::V4(n) => {
            let mask = u32::from(n.netmask());
            IpAddr::V4(Ipv4Addr::from_bits(
                u32::from(n.network()) | (random as u32 & !mask),
            ))
        }
        IpNet::V6(n) => {
            let mask = u128::from(n.netmask());
            IpAddr::V6(Ipv6Addr::from_bits(
                u128::from(n.network()) | (random & !mask),
            ))
        }
    }
}

fn spellings(addr: IpAddr) -> Vec<String> {
    match addr {
        IpAddr::V4(a) => v4_spellings(a),
        IpAddr::V6(a) => v6_spellings(a),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_address_in_a_refused_block_is_refused_in_every_spelling(
        row in 0..refused_rows().len(),
        random in any::<u128>(),
    ) {
        let rows = registry();
        let addr = in_net(refused_rows()[row], random);
        let expected = reference_verdict(&rows, addr);
        // A globally reachable carve-out inside the block (192.0.0.9 in 192.0.0.0/24).
        prop_assume!(expected.is_some());
        let policy = Policy::default();
        for spelling in spellings(addr) {
            let url = format!("http://{spelling}/");
            let got = policy.parse(&url, Origin::Operator);
            let Err(Rejection::SpecialAddress { block, .. }) = got else {
                return Err(TestCaseError::fail(format!("{url}: {got:?}")));
            };
            // The IPv6 embeddings of an IPv4 spelling are judged by the IPv4 block too, except
            // for the IPv6 rows that refuse whatever they carry (none are generated here).
            prop_assert_eq!(Some(block.prefix()), expected, "{}", url);
        }
    }

    #[test]
    fn any_global_ipv4_outside_the_blocks_is_allowed(bits in any::<u32>()) {
        let rows = registry();
        let addr = Ipv4Addr::from_bits(bits);
        prop_assume!(reference_verdict(&rows, IpAddr::V4(addr)).is_none());
        let policy = Policy::default();
        for spelling in v4_spellings(addr) {
            let url = format!("https://{spelling}:8443/x");
            prop_assert!(policy.parse(&url, Origin::Operator).is_ok(), "{}", url);
        }
    }

    #[test]
    fn any_global_ipv6_outside_the_blocks_is_allowed(random in any::<u128>()) {
        let rows = registry();
        let addr = in_net("2000::/3".parse().unwrap(), random);
        prop_assume!(reference_verdict(&rows, addr).is_none());
        let policy = Policy::default();
        for spelling in spellings(addr) {
            let url = format!("https://{spelling}/");
            prop_assert!(policy.parse(&url, Origin::Operator).is_ok(), "{}", url);
        }
        prop_assert!(policy.check_ip(addr).is_ok());
    }

    #[test]
    fn check_url_never_panics(input in ".{0,80}") {
        let policy = Policy::builder().allow_host("*.example.com").build().unwrap();
        let _ = policy.parse(&input, Origin::Model);
        let _ = policy.parse(&format!("http://{input}"), Origin::Operator);
    }
}

#[test]
fn production_refuses_every_escape_hatch() {
    let net: IpNet = "10.20.0.0/16".parse().unwrap();
    for (builder, hatch) in [
        (
            Policy::builder().dangerous().allow_private_networks(),
            Hatch::PrivateNetworks,
        ),
        (
            Policy::builder().dangerous().allow_loopback(),
            Hatch::Loopback,
        ),
        (
            Policy::builder().dangerous().allow_network(net),
            Hatch::Network(net),
        ),
    ] {
        let err = builder.clone().build().unwrap_err();
        assert_eq!(err, PolicyError::DangerousInProduction { hatch });
        assert!(err.to_string().contains("development"), "{err}");
        let policy = builder.development().build().unwrap();
        assert_eq!(policy.mode(), Mode::Development);
    }
    assert_eq!(Policy::default().mode(), Mode::Production);
}

#[test]
fn bad_builder_input_is_a_typed_error() {
    for entry in ["", "*.", "a.*.com", "*.10.0.0.1", "exa mple.com", "*"] {
        let err = Policy::builder().allow_host(entry).build().unwrap_err();
        assert!(
            matches!(&err, PolicyError::AllowedHost { entry: e, .. } if e == entry),
            "{entry}: {err:?}"
        );
    }
    assert_eq!(
        Policy::builder()
            .allowed_ports([443, 0])
            .build()
            .unwrap_err(),
        PolicyError::PortZero
    );
}

#[test]
fn port_allowlist() {
    let policy = Policy::builder()
        .allowed_ports([443, 8443])
        .build()
        .unwrap();
    assert!(
        policy
            .parse("https://example.com/", Origin::Operator)
            .is_ok()
    );
    assert!(
        policy
            .parse("https://example.com:8443/", Origin::Operator)
            .is_ok()
    );
    assert_eq!(
        policy.parse("http://example.com/", Origin::Operator),
        Err(Rejection::Port { port: 80 })
    );
    assert_eq!(
        policy
            .parse("https://example.com:22/", Origin::Operator)
            .unwrap_err()
            .to_string(),
        "port 22 refused: not in the allowed ports"
    );
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    move |name| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

#[test]
fn from_env_reads_every_documented_variable() {
    let policy = Policy::from_env_with(env(&[
        (
            "TOOL_API_REQUEST_ALLOWED_HOSTS",
            " api.example.com, *.hooks.example.com ,,",
        ),
        ("AGENT_WEBHOOKS_GUARD_ALLOWED_PORTS", "443"),
    ]))
    .unwrap();
    assert_eq!(policy.mode(), Mode::Production);
    assert!(
        policy
            .parse("https://api.example.com/", Origin::Model)
            .is_ok()
    );
    assert!(
        policy
            .parse("https://x.hooks.example.com/", Origin::Model)
            .is_ok()
    );
    assert_eq!(
        policy.parse("https://other.example.com/", Origin::Model),
        Err(Rejection::HostNotAllowed)
    );
    assert_eq!(
        policy.parse("http://api.example.com/", Origin::Model),
        Err(Rejection::Port { port: 80 })
    );

    let empty = Policy::from_env_with(env(&[])).unwrap();
    assert_eq!(
        empty.parse("https://api.example.com/", Origin::Model),
        Err(Rejection::HostNotAllowed)
    );

    let dev = Policy::from_env_with(env(&[
        ("AGENT_WEBHOOKS_GUARD_MODE", "Development"),
        ("AGENT_WEBHOOKS_GUARD_ALLOW_PRIVATE_NETWORKS", "true"),
        ("AGENT_WEBHOOKS_GUARD_ALLOW_LOOPBACK", "1"),
        ("AGENT_WEBHOOKS_GUARD_ALLOWED_NETWORKS", "169.254.0.0/16"),
    ]))
    .unwrap();
    for url in [
        "http://10.1.1.1/",
        "http://127.0.0.1:9/",
        "http://169.254.1.1/",
    ] {
        assert!(dev.parse(url, Origin::Operator).is_ok(), "{url}");
    }

    for (name, value) in [
        ("AGENT_WEBHOOKS_GUARD_ALLOW_PRIVATE_NETWORKS", "true"),
        ("AGENT_WEBHOOKS_GUARD_ALLOW_LOOPBACK", "yes"),
        ("AGENT_WEBHOOKS_GUARD_ALLOWED_NETWORKS", "10.20.0.0/16"),
    ] {
        assert!(
            matches!(
                Policy::from_env_with(env(&[(name, value)])),
                Err(PolicyError::DangerousInProduction { .. })
            ),
            "{name}"
        );
    }

    for (name, value) in [
        ("AGENT_WEBHOOKS_GUARD_MODE", "prod"),
        ("AGENT_WEBHOOKS_GUARD_ALLOWED_PORTS", "443,https"),
        ("AGENT_WEBHOOKS_GUARD_ALLOW_LOOPBACK", "maybe"),
        ("AGENT_WEBHOOKS_GUARD_ALLOWED_NETWORKS", "10.20.0.0/33"),
    ] {
        let err = Policy::from_env_with(env(&[(name, value)])).unwrap_err();
        assert!(
            matches!(&err, PolicyError::Env { name: n, .. } if *n == name),
            "{err:?}"
        );
        assert!(err.to_string().contains(name), "{err}");
    }
    assert!(matches!(
        Policy::from_env_with(env(&[("TOOL_API_REQUEST_ALLOWED_HOSTS", "a.com,b c")])),
        Err(PolicyError::AllowedHost { .. })
    ));
}

#[test]
fn resolved_addresses_are_checked_strictly() {
    let policy = Policy::default();
    let url = policy
        .parse("https://hooks.example.com/x", Origin::Operator)
        .unwrap();
    let public: IpAddr = "93.184.215.14".parse().unwrap();
    let public6: IpAddr = "2606:4700::1111".parse().unwrap();
    let private: IpAddr = "10.0.0.7".parse().unwrap();
    let mapped: IpAddr = "::ffff:169.254.169.254".parse().unwrap();
    assert_eq!(policy.check_resolved(&url, &[public, public6]), Ok(()));
    let err = policy.check_resolved(&url, &[public, private]).unwrap_err();
    assert!(matches!(err, Rejection::SpecialAddress { address, .. } if address == private));
    let err = policy.check_resolved(&url, &[mapped]).unwrap_err();
    assert!(matches!(err, Rejection::SpecialAddress { address, block }
            if address == mapped && block.prefix().to_string() == "169.254.0.0/16"));
    assert_eq!(policy.check_resolved(&url, &[]), Err(Rejection::NoAddress));
    // The URL rules apply again: a name the transport was handed must pass them too.
    let local = url::Url::parse("http://db.internal/").unwrap();
    assert!(matches!(
        policy.check_resolved(&local, &[public]),
        Err(Rejection::LocalName { rule: ".internal" })
    ));

    let dev = Policy::builder()
        .development()
        .dangerous()
        .allow_loopback()
        .build()
        .unwrap();
    let local = url::Url::parse("http://localhost:8080/").unwrap();
    let v4: IpAddr = Ipv4Addr::LOCALHOST.into();
    let v6: IpAddr = Ipv6Addr::LOCALHOST.into();
    assert_eq!(dev.check_resolved(&local, &[v4, v6]), Ok(()));
    assert!(dev.check_resolved(&local, &[v4, private]).is_err());
}

#[test]
fn redirect_hops() {
    let policy = Policy::builder()
        .allow_host("*.example.com")
        .build()
        .unwrap();
    let first = policy
        .parse("https://a.example.com/start", Origin::Model)
        .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("authorization", "Bearer k".parse().unwrap());
    headers.insert("cookie", "s=1".parse().unwrap());
    headers.insert("x-acme-token", "t".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("x-call-id", "CA1".parse().unwrap());

    // Same origin: nothing to drop.
    let next = first.join("/next?x=1").unwrap();
    let hop = policy.check_redirect(&first, &next, Origin::Model).unwrap();
    assert!(!hop.is_cross_origin());
    assert!(hop.headers_to_drop(&headers).is_empty());

    // Another host in the allowlist, another port, a scheme downgrade: cross-origin. (A
    // model-provided chain may not change port or scheme at all: judged as an operator's.)
    for target in [
        "https://b.example.com/",
        "https://a.example.com:8443/",
        "http://a.example.com/",
    ] {
        let next = first.join(target).unwrap();
        let origin = if target.starts_with("https://b.") {
            Origin::Model
        } else {
            assert_eq!(
                policy.check_redirect(&first, &next, Origin::Model),
                Err(Rejection::HostNotAllowed),
                "{target}"
            );
            Origin::Operator
        };
        let hop = policy.check_redirect(&first, &next, origin).unwrap();
        assert!(hop.is_cross_origin(), "{target}");
        let mut h = headers.clone();
        let mut dropped: Vec<String> = hop
            .strip_headers(&mut h)
            .iter()
            .map(ToString::to_string)
            .collect();
        dropped.sort();
        assert_eq!(dropped, ["authorization", "cookie", "x-acme-token"]);
        assert_eq!(h.len(), 2);
    }

    // A model-provided chain stays bound to the allowlist; every hop meets the address rules.
    for (target, expected) in [
        ("https://evil.com/", Rejection::HostNotAllowed),
        ("ftp://a.example.com/", Rejection::Scheme),
        ("https://u:p@b.example.com/", Rejection::Credentials),
    ] {
        let next = first.join(target).unwrap();
        assert_eq!(
            policy.check_redirect(&first, &next, Origin::Model),
            Err(expected)
        );
    }
    let next = first.join("http://[::ffff:127.0.0.1]/").unwrap();
    assert!(matches!(
        policy.check_redirect(&first, &next, Origin::Operator),
        Err(Rejection::SpecialAddress { .. })
    ));
    let next = first.join("https://evil.com/").unwrap();
    assert!(
        policy
            .check_redirect(&first, &next, Origin::Operator)
            .unwrap()
            .is_cross_origin()
    );
}

#[test]
fn rejection_is_a_plain_value_with_a_reason() {
    fn assert_copy_eq<T: Copy + Eq + Send + Sync + std::error::Error + 'static>() {}
    assert_copy_eq::<Rejection>();
    fn assert_send_sync<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_send_sync::<Policy>();

    let policy = Policy::default();
    let cases = [
        (
            "gopher://x/",
            "scheme refused: only http and https may leave",
        ),
        (
            "http://u@x.com/",
            "credentials in the URL refused: send them in a header the operator configures",
        ),
        ("http://x.com:0/", "port 0 refused"),
        (
            "http://a.corp.internal/",
            "host name ends in `.internal`, a name for local or private networks",
        ),
        (
            "http://localhost/",
            "host name is `localhost`, a name for the local host",
        ),
        (
            "http://metadata.google.internal/",
            "host name `metadata.google.internal` is a cloud metadata service",
        ),
        (
            "http://[::ffff:10.0.0.1]/",
            "address ::ffff:10.0.0.1 is in 10.0.0.0/8 (Private-Use, RFC 1918), which is not globally reachable",
        ),
        (
            "http://[2002:a00:1::]/",
            "address 2002:a00:1:: is in 2002::/16 (6to4, RFC 3056), which is not globally reachable",
        ),
        (
            "http://[4000::1]/",
            "address 4000::1 is in ::/0 (Outside global unicast 2000::/3, RFC 4291), which is not globally reachable",
        ),
        ("http://1.2.3.4.5/", "not a URL: invalid IPv4 address"),
    ];
    for (input, text) in cases {
        assert_eq!(
            policy
                .parse(input, Origin::Operator)
                .unwrap_err()
                .to_string(),
            text
        );
    }
    assert_eq!(
        policy
            .parse("https://x.com/", Origin::Model)
            .unwrap_err()
            .to_string(),
        "host is not in the allowlist for model-provided URLs (TOOL_API_REQUEST_ALLOWED_HOSTS)"
    );
}

#[test]
fn crate_error_carries_the_rejection() {
    let err = Error::from(Rejection::Credentials);
    assert_eq!(err.kind(), ErrorKind::Guard);
    assert_eq!(err.as_rejection(), Some(&Rejection::Credentials));
    assert!(err.as_config().is_none());
    let err = Error::from(PolicyError::PortZero);
    assert_eq!(err.kind(), ErrorKind::Policy);
    assert_eq!(err.as_policy(), Some(&PolicyError::PortZero));
    assert_eq!(err.as_rejection(), None);
}

fn check_url_cli(args: &[&str], input: &[u8]) -> Result<String, String> {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let mut out = Vec::new();
    crate::check_url::run_on(&args, input, &mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn webhookctl_check_url_prints_one_line_per_input_line() {
    let input = b"https://example.com/\nhttp://127.1/\n\nnot a url\nhttps://a.hooks.example.com/\r\nfile:///x\n\xff\xfe\nhttp://[::ffff:a9fe:a9fe]/";
    let out = check_url_cli(&[], input).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "allow",
            "deny address 127.0.0.1 is in 127.0.0.0/8 (Loopback, RFC 1122), which is not globally reachable",
            "deny parse: relative URL without a base",
            "deny parse: relative URL without a base",
            "allow",
            "deny scheme refused: only http and https may leave",
            "deny parse: the line is not UTF-8",
            "deny address ::ffff:169.254.169.254 is in 169.254.0.0/16 (Link Local, RFC 3927), which is not globally reachable",
        ]
    );

    let out = check_url_cli(
        &[
            "--model",
            "--allow-host",
            "api.example.com",
            "--allow-host",
            "*.hooks.example.com",
        ],
        b"https://api.example.com/\nhttps://a.hooks.example.com/\nhttps://hooks.example.com/\n",
    )
    .unwrap();
    assert_eq!(
        out,
        "allow\nallow\ndeny host is not in the allowlist for model-provided URLs (TOOL_API_REQUEST_ALLOWED_HOSTS)\n"
    );

    let out = check_url_cli(
        &["--dev", "--allow-private"],
        b"http://10.0.0.1/\nhttp://127.0.0.1/\n",
    )
    .unwrap();
    assert!(out.starts_with("allow\ndeny address 127.0.0.1"), "{out}");

    let err = check_url_cli(&["--allow-private"], b"").unwrap_err();
    assert!(err.contains("production mode refuses it"), "{err}");
    assert!(check_url_cli(&["--bogus"], b"").is_err());
    assert_eq!(check_url_cli(&[], b"").unwrap(), "");
}
