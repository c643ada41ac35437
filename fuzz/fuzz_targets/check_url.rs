//! `Policy::parse` / `check_url` / `check_resolved` / `check_redirect` never panic, on any input,
//! and agree with each other; cloud metadata addresses stay refused under every hatch.
#![no_main]

use std::net::IpAddr;
use std::sync::OnceLock;

use agent_webhooks::guard::{Origin, Policy, Rejection, SpecialBlock, special_block};
use agent_webhooks::ipnet::IpNet;
use libfuzzer_sys::fuzz_target;

struct Policies {
    production: Policy,
    development: Policy,
    /// Development with every hatch open, `0.0.0.0/0` and `::/0` included.
    everything: Policy,
    rows: Vec<(IpNet, SpecialBlock)>,
    metadata: Vec<IpAddr>,
}

/// The rows read the plain way: the longest containing prefix decides. The masked tables and
/// their fast paths must agree with it on every address.
fn reference(rows: &[(IpNet, SpecialBlock)], addr: IpAddr) -> Option<SpecialBlock> {
    let (_, block) = rows
        .iter()
        .filter(|(net, _)| net.contains(&addr))
        .max_by_key(|(net, _)| net.prefix_len())?;
    if block.carries_ipv4() {
        if let IpAddr::V6(a) = addr {
            return reference(rows, IpAddr::V4((a.to_bits() as u32).into()));
        }
    }
    block.is_refused().then_some(*block)
}

fn policies() -> &'static Policies {
    static P: OnceLock<Policies> = OnceLock::new();
    P.get_or_init(|| Policies {
        production: Policy::builder()
            .allowed_hosts(["api.example.com", "*.hooks.example.com", "[2001:4860::1]"])
            .build()
            .expect("valid policy"),
        development: Policy::builder()
            .development()
            .dangerous()
            .allow_private_networks()
            .dangerous()
            .allow_loopback()
            .build()
            .expect("valid policy"),
        everything: Policy::builder()
            .development()
            .dangerous()
            .allow_private_networks()
            .dangerous()
            .allow_loopback()
            .dangerous()
            .allow_network("0.0.0.0/0".parse().expect("net"))
            .dangerous()
            .allow_network("::/0".parse().expect("net"))
            .build()
            .expect("valid policy"),
        rows: SpecialBlock::all().map(|b| (b.prefix(), b)).collect(),
        metadata: [
            "169.254.169.254",
            "100.100.100.200",
            "168.63.129.16",
            "fd00:ec2::254",
            "fd20:ce::254",
            "fd00:c1::a9fe:a9fe",
            "::ffff:100.100.100.200",
        ]
        .iter()
        .map(|a| a.parse().expect("address"))
        .collect(),
    })
}

fuzz_target!(|data: &[u8]| {
    let p = policies();
    // The first 16 bytes, when present, double as an IPv6 address for the resolved check.
    let addr = data
        .get(..16)
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .map(|b| IpAddr::from(b));
    if let Some(a) = addr {
        assert_eq!(special_block(a), reference(&p.rows, a), "{a}");
        let IpAddr::V6(v6) = a else { unreachable!() };
        let v4 = IpAddr::V4((v6.to_bits() as u32).into());
        assert_eq!(special_block(v4), reference(&p.rows, v4), "{v4}");
        // Metadata stays refused under every hatch, a named network over it included.
        for candidate in [a, v4] {
            if p.metadata.contains(&candidate) {
                assert!(p.development.check_ip(candidate).is_err(), "{candidate}");
                assert!(p.everything.check_ip(candidate).is_err(), "{candidate}");
            }
        }
    }
    for m in &p.metadata {
        assert!(p.everything.check_ip(*m).is_err(), "{m}");
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for policy in [&p.production, &p.development] {
        for origin in [Origin::Operator, Origin::Model] {
            let parsed = policy.parse(text, origin);
            if let Ok(url) = &parsed {
                // Checking the parsed URL again gives the same verdict.
                assert_eq!(policy.check_url(url, origin), Ok(()));
                let _ = policy.check_redirect(url, url, origin);
                if let Some(a) = addr {
                    let resolved = policy.check_resolved(url, &[a]);
                    if special_block(a).is_none() {
                        assert_eq!(resolved, Ok(()));
                    }
                }
            }
            if let Err(r) = parsed {
                let _ = r.to_string();
                assert!(!r.code().is_empty());
                if let Rejection::SpecialAddress { address, .. } = r {
                    assert!(policy.check_ip(address).is_err());
                }
            }
        }
    }
    // The same bytes as a host.
    let _ = p
        .production
        .parse(&format!("http://{text}/"), Origin::Operator);
});
