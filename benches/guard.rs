//! The guard against its floor and the obvious alternative, in one run:
//! - the check of a domain URL and of an IP-literal URL vs `Url::parse` alone (goal <= 1.15x);
//! - the address classifier vs a linear `Vec<IpNet>` scan, IPv4 and IPv6 (goal <= 25 ns).
//!
//! After criterion's own report, `support::compare` times the cases interleaved in the same
//! process and prints the medians and the ratios the goals are judged on.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Instant;

use agent_webhooks::guard::{Origin, Policy, SpecialBlock, special_block};
use agent_webhooks::ipnet::IpNet;
use agent_webhooks::url::Url;
use criterion::Criterion;

mod support;

const DOMAIN_URL: &str = "https://api.example.com/customers/+15551234567?call=CA123&agent=a1";
const IP_URL: &str = "https://93.184.215.14:8443/customers/+15551234567?call=CA123&agent=a1";

/// The obvious alternative: every row as an `IpNet`, the longest containing prefix decides.
struct LinearScan {
    rows: Vec<(IpNet, SpecialBlock)>,
}

impl LinearScan {
    fn new() -> Self {
        LinearScan {
            rows: SpecialBlock::all().map(|b| (b.prefix(), b)).collect(),
        }
    }

    fn classify(&self, addr: IpAddr) -> Option<SpecialBlock> {
        let (_, block) = self
            .rows
            .iter()
            .filter(|(net, _)| net.contains(&addr))
            .max_by_key(|(net, _)| net.prefix_len())?;
        if block.carries_ipv4() {
            if let IpAddr::V6(a) = addr {
                return self.classify(IpAddr::V4((a.to_bits() as u32).into()));
            }
        }
        block.is_refused().then_some(*block)
    }
}

struct Inputs {
    policy: Policy,
    linear: LinearScan,
    v4: IpAddr,
    v6: IpAddr,
    v4_scan: IpAddr,
    v6_scan: IpAddr,
}

fn inputs() -> Inputs {
    Inputs {
        policy: Policy::builder()
            .allow_host("api.example.com")
            .allow_host("93.184.215.14")
            .build()
            .unwrap(),
        linear: LinearScan::new(),
        // Public addresses: no row matches, so both implementations do their full work.
        v4: "93.184.215.14".parse().unwrap(),
        v6: "2606:4700:4700::1111".parse().unwrap(),
        // Public addresses whose leading bits are shared with refused rows: our full scan.
        v4_scan: "192.30.255.112".parse().unwrap(),
        v6_scan: "2001:4860:4860::8888".parse().unwrap(),
    }
}

fn benches(c: &mut Criterion, i: &Inputs) {
    assert!(i.policy.parse(DOMAIN_URL, Origin::Model).is_ok());
    assert!(i.policy.parse(IP_URL, Origin::Model).is_ok());
    assert_eq!(special_block(i.v4), i.linear.classify(i.v4));
    assert_eq!(special_block(i.v6), i.linear.classify(i.v6));
    for a in [i.v4, i.v6, i.v4_scan, i.v6_scan] {
        assert_eq!(special_block(a), None, "{a} is public");
    }

    let mut g = c.benchmark_group("guard_url");
    g.bench_function("url_parse_domain", |b| {
        b.iter(|| Url::parse(black_box(DOMAIN_URL)))
    });
    g.bench_function("check_domain", |b| {
        b.iter(|| i.policy.parse(black_box(DOMAIN_URL), Origin::Model))
    });
    g.bench_function("url_parse_ip", |b| b.iter(|| Url::parse(black_box(IP_URL))));
    g.bench_function("check_ip", |b| {
        b.iter(|| i.policy.parse(black_box(IP_URL), Origin::Model))
    });
    g.finish();

    let mut g = c.benchmark_group("guard_classify");
    g.bench_function("masked_v4", |b| b.iter(|| special_block(black_box(i.v4))));
    g.bench_function("linear_v4", |b| {
        b.iter(|| i.linear.classify(black_box(i.v4)))
    });
    g.bench_function("masked_v6", |b| b.iter(|| special_block(black_box(i.v6))));
    g.bench_function("linear_v6", |b| {
        b.iter(|| i.linear.classify(black_box(i.v6)))
    });
    g.finish();
}

/// The median over 41 rounds of the per-round ratio `a / b`, each round one ~1 ms batch of `a`
/// then one of `b`: robust to load that comes and goes on a shared machine, where medians taken
/// per case can land in different load phases.
fn paired_ratio(mut a: impl FnMut(), mut b: impl FnMut()) -> f64 {
    fn batch(f: &mut impl FnMut(), n: u64) -> f64 {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        t.elapsed().as_nanos() as f64 / n as f64
    }
    let size = |f: &mut dyn FnMut()| {
        let mut n = 1u64;
        loop {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            if t.elapsed().as_micros() >= 1000 || n >= 1 << 30 {
                return n;
            }
            n *= 2;
        }
    };
    let (na, nb) = (size(&mut a), size(&mut b));
    let mut ratios: Vec<f64> = (0..41)
        .map(|_| batch(&mut a, na) / batch(&mut b, nb))
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}

fn ratios(i: &Inputs) {
    for (name, url) in [("domain URL", DOMAIN_URL), ("IP-literal URL", IP_URL)] {
        let parsed = Url::parse(url).unwrap();
        let m = support::compare(
            &format!("check of a {name} vs Url::parse (goal <= 1.15x)"),
            vec![
                (
                    "Url::parse (floor)",
                    Box::new(|| drop(black_box(Url::parse(black_box(url))))),
                ),
                (
                    "Policy::parse (parse + every check)",
                    Box::new(|| drop(black_box(i.policy.parse(black_box(url), Origin::Model)))),
                ),
                (
                    "Url::parse, then check_url (same work, caller-side)",
                    Box::new(|| {
                        let url = Url::parse(black_box(url)).unwrap();
                        let _ = black_box(i.policy.check_url(&url, Origin::Model));
                        drop(black_box(url));
                    }),
                ),
                (
                    "of which check_url on the parsed URL",
                    Box::new(|| {
                        let _ = black_box(i.policy.check_url(black_box(&parsed), Origin::Model));
                    }),
                ),
            ],
        );
        let paired = paired_ratio(
            || drop(black_box(i.policy.parse(black_box(url), Origin::Model))),
            || drop(black_box(Url::parse(black_box(url)))),
        );
        println!(
            "  ratio = {paired:.2} (check / Url::parse, goal <= 1.15; median of per-round \
             ratios; from the medians above: {:.2})",
            m[1] / m[0]
        );
    }
    for (name, addr) in [
        ("IPv4 (first octet in no row)", i.v4),
        ("IPv4 (192.x: full scan)", i.v4_scan),
        ("IPv6 (2606::/16: no row)", i.v6),
        ("IPv6 (2001::/16: full scan)", i.v6_scan),
    ] {
        let m = support::compare(
            &format!("classify one public {name} address (goal <= 25 ns)"),
            vec![
                (
                    "masked integer table (ours)",
                    Box::new(|| {
                        black_box(special_block(black_box(addr)));
                    }),
                ),
                (
                    "linear Vec<IpNet> longest-prefix scan",
                    Box::new(|| {
                        black_box(i.linear.classify(black_box(addr)));
                    }),
                ),
            ],
        );
        println!(
            "  ratio = {:.2} (linear / masked); masked = {:.1} ns",
            m[1] / m[0],
            m[0]
        );
    }
}

fn main() {
    let i = inputs();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &i);
    c.final_summary();
    if support::is_bench_run() {
        ratios(&i);
    }
}
